package fuzzcorpus

import (
	"path/filepath"
	"testing"
)

// TestEncode checks the format go test -fuzz itself writes.
func TestEncode(t *testing.T) {
	got := string(Encode([]byte("a\x00\"\xff"), "é", 3, true))
	want := "go test fuzz v1\n[]byte(\"a\\x00\\\"\\xff\")\nstring(\"é\")\nint(3)\nbool(true)\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if n := Name([]byte(want)); len(n) != 16 {
		t.Fatalf("name %q", n)
	}
}

func TestCheckWrites(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(WriteEnv, "1")
	seeds := Bytes([][]byte{[]byte("x"), []byte("y")})
	Check(t, "FuzzX", seeds)
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzX", "*"))
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	t.Setenv(WriteEnv, "")
	Check(t, "FuzzX", seeds) // all present: no error
}
