package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/veil-ml/veil/internal/modelstore"
	"github.com/veil-ml/veil/pkg/lora"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"train"},
		{"train", "-data", "x"},
		{"train", "-nope"},
		{"inspect"},
		{"resize", "a"},
		{"prune", "-out", "x", "a"},
		{"prune", "-out", "x", "-density", "0.5", "-method", "zap", "a"},
		{"combine", "a"},
		{"demo-images"},
	} {
		code, _, stderr := runCmd(args...)
		if code != 2 {
			t.Errorf("lora %v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
	}
	for _, args := range [][]string{{"-h"}, {"train", "-h"}, {"combine", "-h"}} {
		if code, _, _ := runCmd(args...); code != 0 {
			t.Errorf("lora %v: exit %d, want 0", args, code)
		}
	}
	if code, _, stderr := runCmd("inspect", filepath.Join(t.TempDir(), "missing")); code != 1 || !strings.Contains(stderr, "missing") {
		t.Errorf("inspect of a missing file: exit %d, stderr %q; want 1 and the path", code, stderr)
	}
}

// writeTestAdapter writes a random two-layer adapter as PEFT and returns its directory.
func writeTestAdapter(t *testing.T, seed uint64, rank int) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	a := &lora.Adapter{Name: "test"}
	for _, l := range []struct {
		name    string
		in, out int
	}{{"dense_1", 32, 16}, {"dense_2", 16, 8}} {
		la := lora.LayerAdapter{Layer: l.name, Rank: rank, In: l.in, Out: l.out, KH: 1, KW: 1, Alpha: float64(2 * rank),
			A: make([]float32, rank*l.in), B: make([]float32, l.out*rank)}
		for i := range la.A {
			la.A[i] = float32(rng.NormFloat64())
		}
		for i := range la.B {
			la.B[i] = float32(rng.NormFloat64())
		}
		a.Layers = append(a.Layers, la)
	}
	dir := filepath.Join(t.TempDir(), "a")
	if err := lora.WritePEFT(dir, a); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestAdapterCommands(t *testing.T) {
	a := writeTestAdapter(t, 1, 4)
	b := writeTestAdapter(t, 2, 4)
	tmp := t.TempDir()

	code, out, stderr := runCmd("inspect", "-json", a)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	var info adapterInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil || len(info.Layers) != 2 || info.Layers[0].Rank != 4 {
		t.Fatalf("inspect -json: %v, %+v", err, info)
	}

	for _, tc := range []struct {
		args  []string
		out   string
		ranks int // expected rank of every layer, 0: don't check
	}{
		{[]string{"resize", "-rank", "2"}, "r2", 2},
		{[]string{"resize", "-method", "sv_fro", "-param", "0.9"}, "fro.safetensors", 0},
		{[]string{"prune", "-density", "0.5"}, "pruned", 4},
		{[]string{"prune", "-method", "dare", "-density", "0.5", "-seed", "3"}, "dare", 4},
	} {
		path := filepath.Join(tmp, tc.out)
		args := append(append(tc.args, "-out", path), a)
		if code, _, stderr := runCmd(args...); code != 0 {
			t.Fatalf("lora %v: exit %d: %s", args, code, stderr)
		}
		got, err := readAdapter(path)
		if err != nil {
			t.Fatalf("lora %v: reading the result: %v", args, err)
		}
		for _, l := range got.Layers {
			if tc.ranks > 0 && l.Rank != tc.ranks {
				t.Errorf("lora %v: layer %s rank %d, want %d", args, l.Layer, l.Rank, tc.ranks)
			}
		}
	}
	for _, method := range []string{"linear", "cat", "svd", "ties", "dare_linear", "dare_ties", "magnitude_prune"} {
		path := filepath.Join(tmp, "c_"+method)
		args := []string{"combine", "-method", method, "-density", "0.5", "-rank", "4", "-out", path, a + ":0.7", b + ":0.3"}
		if code, _, stderr := runCmd(args...); code != 0 {
			t.Fatalf("lora %v: exit %d: %s", args, code, stderr)
		}
		if _, err := readAdapter(path); err != nil {
			t.Errorf("combine %s: %v", method, err)
		}
	}
}

func TestParseWeighted(t *testing.T) {
	for _, tc := range []struct {
		in   string
		path string
		w    float64
	}{
		{"a", "a", 1}, {"a:0.5", "a", 0.5}, {"c:/x/y:-2", "c:/x/y", -2}, {"dir:name", "dir:name", 1},
	} {
		p, w, err := parseWeighted(tc.in)
		if err != nil || p != tc.path || w != tc.w {
			t.Errorf("parseWeighted(%q) = %q, %g, %v; want %q, %g", tc.in, p, w, err, tc.path, tc.w)
		}
	}
}

// TestTrainEndToEnd writes a few demonstration images, trains on them and
// checks the report and the adapter. It needs the MobileNetV2 model.
func TestTrainEndToEnd(t *testing.T) {
	if testing.Short() || runtime.GOOS == "js" {
		t.Skip("runs the backbone ~30 times; skipped in -short mode and under js/wasm")
	}
	if _, err := modelstore.TFJSDir("mobilenet_v2"); err != nil {
		if os.Getenv("VEIL_REQUIRE_MODELS") != "" {
			t.Fatal(err)
		}
		t.Skipf("model not available: %v", err)
	}
	tmp := t.TempDir()
	if code, _, stderr := runCmd("demo-images", "-out", tmp, "-train", "12", "-unseen", "0", "-control", "0"); code != 0 {
		t.Fatalf("demo-images: exit %d: %s", code, stderr)
	}
	out := filepath.Join(tmp, "adapter")
	code, stdout, stderr := runCmd("train", "-data", filepath.Join(tmp, "train"), "-out", out, "-variants", "1",
		"-replay-generated", "9", "-epochs", "40", "-json")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	var rep trainReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("train -json: %v\n%s", err, stdout)
	}
	if rep.Train.Images+rep.Val.Images != 12 || rep.Train.After.Accuracy() < 0.9 {
		t.Errorf("report: %d+%d images, training accuracy after %.2f; want 12 and ≥ 0.9", rep.Train.Images, rep.Val.Images, rep.Train.After.Accuracy())
	}
	a, err := lora.ReadPEFT(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Layers) != 3 || a.Metadata["veil_base_model"] != "mobilenet_v2" {
		t.Errorf("adapter: %d layers, metadata %v", len(a.Layers), a.Metadata)
	}
}
