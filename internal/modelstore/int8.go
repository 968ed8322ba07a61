package modelstore

import (
	"fmt"
	"os"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/veilfile"
)

// LoadClassifier loads an int8 .veil model by name or path. The file is
// verified (magic, version, checksum, structure) before it is used.
func LoadClassifier(nameOrPath string) (*infer.Classifier, error) {
	p, err := VeilPath(nameOrPath)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// Streamed: the file is never in memory whole, next to the weights.
	q, _, err := veilfile.ReadFrom(f, int(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", p, err)
	}
	return infer.NewInt8ClassifierOwning(q), nil
}
