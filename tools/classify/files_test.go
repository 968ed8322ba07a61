package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/veil-ml/veil/internal/malformed"
)

// tinyModel is a small int8 model (pkg/infer's test fixture): fast, and
// present without `make models`.
const tinyModel = "../../pkg/infer/testdata/tiny.veil"

// writeCase writes a malformed-table case into dir under rel.
func writeCase(t *testing.T, dir, rel, name string) string {
	t.Helper()
	c, ok := malformed.ByName(name)
	require.True(t, ok, name)
	p := filepath.Join(dir, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, c.Data(), 0o644))
	return p
}

// smallTree is a directory tree of good and bad images and a non-image.
func smallTree(t *testing.T) string {
	dir := t.TempDir()
	writeCase(t, dir, "b/z.png", "png_rgb")
	writeCase(t, dir, "b/a.jpg", "jpeg_truncated_data")
	writeCase(t, dir, "a.gif", "gif_animated")
	writeCase(t, dir, "c/d/e.WEBP", "webp_lossless")
	writeCase(t, dir, "c/empty.png", "empty")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "c/notes.txt"), []byte("not an image"), 0o644))
	return dir
}

func TestRecurseKeepsGoingInPathOrder(t *testing.T) {
	dir := smallTree(t)
	var out, errb bytes.Buffer
	status := run(bg, []string{"-model", tinyModel, "-json", "-r", dir}, &out, &errb)
	require.Equal(t, 1, status, "a bad file makes the exit status 1; stderr:\n%s", errb.String())

	var files []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r result
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		files = append(files, strings.TrimPrefix(r.File, dir+string(filepath.Separator)))
		if r.Error == "" {
			require.Len(t, r.Predictions, 3, r.File) // the tiny model has three classes
		}
	}
	want := []string{"a.gif", "b/a.jpg", "b/z.png", "c/d/e.WEBP", "c/empty.png"}
	for i := range want {
		want[i] = filepath.FromSlash(want[i])
	}
	require.Equal(t, want, files, "every image file, in path order; notes.txt skipped")

	// Each failure is on stderr with its path and reason.
	require.Equal(t, []string{
		filepath.Join(dir, "b", "a.jpg") + ": decode: invalid JPEG: invalid JPEG format: short Huffman data",
		filepath.Join(dir, "c", "empty.png") + ": decode: empty input (0 bytes)",
	}, strings.Split(strings.TrimSpace(errb.String()), "\n"))

	// The same tree gives the same output.
	var again bytes.Buffer
	run(bg, []string{"-model", tinyModel, "-json", "-r", dir}, &again, &bytes.Buffer{})
	require.Equal(t, out.String(), again.String())
}

func TestDirectoryWithoutRecurse(t *testing.T) {
	dir := smallTree(t)
	var out, errb bytes.Buffer
	require.Equal(t, 1, run(bg, []string{"-model", tinyModel, dir}, &out, &errb))
	require.Contains(t, errb.String(), dir+": is a directory (use -r")
}

func TestOutputFileIsWrittenWhole(t *testing.T) {
	dir := smallTree(t)
	outDir := t.TempDir()
	outFile := filepath.Join(outDir, "results.jsonl")
	var stdout, errb bytes.Buffer
	require.Equal(t, 1, run(bg, []string{"-model", tinyModel, "-json", "-r", "-o", outFile, dir}, &stdout, &errb))
	require.Empty(t, stdout.String(), "with -o nothing goes to stdout")
	got, err := os.ReadFile(outFile)
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(string(got)), "\n"), 5)
	entries, err := os.ReadDir(outDir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "a temporary file was left behind")

	// Text output too; an existing file is replaced.
	require.Equal(t, 0, run(bg, []string{"-model", tinyModel, "-o", outFile, filepath.Join(dir, "a.gif")}, &stdout, &errb))
	got, err = os.ReadFile(outFile)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(got), filepath.Join(dir, "a.gif")+": "), "%q", got)
	require.Equal(t, 1, strings.Count(string(got), "\n"))
}

func TestInterruptedRunLeavesNoOutput(t *testing.T) {
	dir := smallTree(t)
	outDir := t.TempDir()
	outFile := filepath.Join(outDir, "results.jsonl")
	ctx, cancel := context.WithCancel(bg)
	cancel() // as if Ctrl-C came before the first result
	var stdout, errb bytes.Buffer
	require.Equal(t, exitInterrupted, run(ctx, []string{"-model", tinyModel, "-json", "-r", "-o", outFile, dir}, &stdout, &errb))
	require.Contains(t, errb.String(), "classify: interrupted")
	entries, err := os.ReadDir(outDir)
	require.NoError(t, err)
	require.Empty(t, entries, "an interrupted run left files")
}

// TestRefusesCorruptModel: a model that fails verification is never used.
func TestRefusesCorruptModel(t *testing.T) {
	good, err := os.ReadFile(tinyModel)
	require.NoError(t, err)
	img := writeCase(t, t.TempDir(), "x.png", "png_rgb")
	flip := bytes.Clone(good)
	flip[len(flip)-10] ^= 0x01
	version := bytes.Replace(bytes.Clone(good), []byte(`"format_version":"1"`), []byte(`"format_version":"9"`), 1)
	require.NotEqual(t, good, version)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"bit_flip":  {flip, "checksum"},
		"version":   {version, "version"},
		"truncated": {good[:len(good)/2], "model "},
		"empty":     {nil, "model "},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "m.veil")
			require.NoError(t, os.WriteFile(p, tc.data, 0o644))
			var out, errb bytes.Buffer
			require.Equal(t, 1, run(bg, []string{"-model", p, "-json", img}, &out, &errb))
			require.Empty(t, out.String(), "no result from a bad model")
			require.Contains(t, errb.String(), tc.want)
			require.Contains(t, errb.String(), p)
		})
	}
}
