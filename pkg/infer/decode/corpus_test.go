package decode_test

import (
	"testing"

	"github.com/veil-ml/veil/internal/fuzzcorpus"
	"github.com/veil-ml/veil/internal/malformed"
)

// TestFuzzCorpus keeps FuzzDecode's committed seeds: the small files of the
// malformed-input table, valid and not (internal/malformed imports this
// package, so FuzzDecode itself cannot list them).
func TestFuzzCorpus(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzDecode", fuzzcorpus.Bytes(malformed.Seeds()))
}
