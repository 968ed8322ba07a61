package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veil-ml/veil/internal/modelstore"
	"github.com/veil-ml/veil/internal/testimages"
)

// bg is the context of runs that are not interrupted.
var bg = context.Background()

func writePNG(t *testing.T, dir, name string) string {
	t.Helper()
	s, ok := testimages.ByName(name)
	require.True(t, ok, name)
	p := filepath.Join(dir, name+".png")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, testimages.WritePNG(f, s.Make()))
	require.NoError(t, f.Close())
	return p
}

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 2, run(bg, nil, &out, &errb))
	assert.Contains(t, errb.String(), "no image files given")
	errb.Reset()
	assert.Equal(t, 2, run(bg, []string{"-nosuchflag", "x.png"}, &out, &errb))
	assert.Equal(t, 0, run(bg, []string{"-h"}, &out, &errb))
	assert.Contains(t, errb.String(), "Examples:")
	errb.Reset()
	assert.Equal(t, 1, run(bg, []string{"-float", "-model", "no_such_model", "x.png"}, &out, &errb))
	assert.Contains(t, errb.String(), `not a model name`)
}

func TestJSONOutputFloat(t *testing.T) {
	if _, err := modelstore.TFJSDir("mobilenet_v2"); err != nil {
		if os.Getenv("VEIL_REQUIRE_MODELS") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	good := writePNG(t, dir, "ref_b")
	bad := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(bad, []byte("hello"), 0o644))
	missing := filepath.Join(dir, "missing.png")

	var out, errb bytes.Buffer
	status := run(bg, []string{"-float", "-json", good, bad, missing}, &out, &errb)
	assert.Equal(t, 1, status, "a failed file makes the exit status 1")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)

	var r result
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &r))
	assert.Equal(t, good, r.File)
	require.Len(t, r.Predictions, 5)
	assert.Equal(t, "Neutral", r.Predictions[0].ClassName)
	for i := 1; i < 5; i++ {
		assert.GreaterOrEqual(t, r.Predictions[i-1].Probability, r.Predictions[i].Probability, "sorted descending")
	}
	// REFERENCE.md's input B through nsfwjs: Neutral 0.8596094.
	assert.InDelta(t, 0.8596094, r.Predictions[0].Probability, 1e-4)

	require.NoError(t, json.Unmarshal([]byte(lines[1]), &r))
	assert.Equal(t, bad, r.File)
	assert.Contains(t, r.Error, "not a JPEG, PNG, GIF or WebP")
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &r))
	assert.Contains(t, strings.ToLower(r.Error), "no such file")
}
