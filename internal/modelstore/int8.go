package modelstore

import (
	"fmt"

	"github.com/veil-ml/veil/pkg/infer"
)

// LoadClassifier loads an int8 .veil model by name or path.
func LoadClassifier(nameOrPath string) (*infer.Classifier, error) {
	p, err := VeilPath(nameOrPath)
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("model %s: int8 .veil models are not supported yet; use -float", p)
}
