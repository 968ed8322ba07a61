package fuzzcorpus

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// WriteEnv is the environment variable that makes Check write seed files.
const WriteEnv = "VEIL_WRITE_FUZZ_CORPUS"

// Encode returns a corpus file holding one input of a fuzz target: one
// value per argument of its fuzz function, []byte, string, int or bool.
func Encode(values ...any) []byte {
	b := []byte("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			b = fmt.Appendf(b, "[]byte(%q)\n", v)
		case string:
			b = fmt.Appendf(b, "string(%q)\n", v)
		case int:
			b = fmt.Appendf(b, "int(%d)\n", v)
		case bool:
			b = fmt.Appendf(b, "bool(%s)\n", strconv.FormatBool(v))
		default:
			panic(fmt.Sprintf("fuzzcorpus: unsupported type %T", v))
		}
	}
	return b
}

// Name is the file name Go gives a corpus file: its SHA-256, 16 hex digits.
func Name(file []byte) string {
	return fmt.Sprintf("%x", sha256.Sum256(file))[:16]
}

// Check makes sure every seed (the arguments of one call of the fuzz
// function) of target is a file in testdata/fuzz/target: it writes the
// missing ones when WriteEnv is 1 and fails otherwise.
func Check(t testing.TB, target string, seeds [][]any) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	write := os.Getenv(WriteEnv) == "1"
	var missing []string
	for _, s := range seeds {
		data := Encode(s...)
		p := filepath.Join(dir, Name(data))
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if !write {
			missing = append(missing, p)
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", p)
	}
	// An error, so the committed corpus always holds today's seeds; a
	// format or quantizer change that alters them must rewrite it (old
	// seed files may stay: they remain good fuzz inputs).
	if len(missing) > 0 {
		t.Errorf("%s: %d of %d seed files not committed (first %s): run %s=1 go test -run TestFuzzCorpus .", target, len(missing), len(seeds), missing[0], WriteEnv)
	}
}

// Bytes turns single-argument seeds into Check's form.
func Bytes(seeds [][]byte) [][]any {
	out := make([][]any, len(seeds))
	for i, s := range seeds {
		out[i] = []any{s}
	}
	return out
}
