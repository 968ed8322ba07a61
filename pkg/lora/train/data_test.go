package train

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/veil-ml/veil/internal/demoimages"
	"github.com/veil-ml/veil/pkg/infer"
)

func TestSplitIsStratifiedAndSeeded(t *testing.T) {
	labels := []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 4}
	tr, va := Split(labels, 0.2, 7)
	tr2, va2 := Split(labels, 0.2, 7)
	if !slices.Equal(tr, tr2) || !slices.Equal(va, va2) {
		t.Fatal("Split is not deterministic")
	}
	count := map[int]int{}
	for _, i := range va {
		count[labels[i]]++
	}
	// 10 → 2, 5 → 1, 1 → 0 (a class keeps at least one training image).
	if count[0] != 2 || count[2] != 1 || count[4] != 0 || len(tr)+len(va) != len(labels) {
		t.Errorf("validation per class %v, train %d, val %d", count, len(tr), len(va))
	}
	all := append(slices.Clone(tr), va...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("train ∪ val = %v, want every index once", all)
		}
	}
	if _, va3 := Split(labels, 0.2, 8); slices.Equal(va, va3) {
		t.Errorf("seeds 7 and 8 give the same validation set %v", va)
	}
}

func TestAugment(t *testing.T) {
	img := demoimages.Controls[1].Generate(3, 64)
	const s = 32
	plain := make([]float32, s*s*3)
	infer.Preprocess(plain, img.Pix, img.W, img.H, s)
	got := make([]float32, s*s*3)
	Augment{}.Apply(got, img, s, rand.New(rand.NewPCG(1, 1)))
	if !slices.Equal(got, plain) {
		t.Error("the zero Augment changed the input")
	}
	// Flip only: each call either leaves the image or mirrors it exactly.
	flips := 0
	for seed := uint64(0); seed < 8; seed++ {
		Augment{Flip: true}.Apply(got, img, s, rand.New(rand.NewPCG(seed, 1)))
		if slices.Equal(got, plain) {
			continue
		}
		flips++
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				for c := 0; c < 3; c++ {
					if got[(y*s+x)*3+c] != plain[(y*s+s-1-x)*3+c] {
						t.Fatalf("seed %d: pixel (%d,%d) is not the mirror", seed, x, y)
					}
				}
			}
		}
	}
	if flips == 0 || flips == 8 {
		t.Errorf("%d of 8 draws flipped", flips)
	}
	a := make([]float32, s*s*3)
	DefaultAugment.Apply(a, img, s, rand.New(rand.NewPCG(5, 5)))
	DefaultAugment.Apply(got, img, s, rand.New(rand.NewPCG(5, 5)))
	if !slices.Equal(a, got) {
		t.Error("the same stream gave different augmentations")
	}
	for i, v := range a {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("augmented value %d = %g is outside [0, 1]", i, v)
		}
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"neutral/a.png", "neutral/sub/b.JPG", "Porn/c.webp", "Porn/notes.txt", ".hidden/d.png", "Drawing/.e.png"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ex {
		rel, _ := filepath.Rel(dir, e.Path)
		got = append(got, infer.Classes[e.Label]+":"+filepath.ToSlash(rel))
	}
	want := []string{"Porn:Porn/c.webp", "Neutral:neutral/a.png", "Neutral:neutral/sub/b.JPG"} // sorted by path
	if !slices.Equal(got, want) {
		t.Errorf("LoadDir = %v, want %v", got, want)
	}
	if err := os.MkdirAll(filepath.Join(dir, "Cats"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), `"Cats"`) {
		t.Errorf("LoadDir with a Cats directory: %v, want an error naming it", err)
	}
}

func TestConfusion(t *testing.T) {
	c := NewConfusion([]string{"a", "b", "c"}, []int{0, 0, 1, 1, 1, 2}, []int{0, 1, 1, 1, 0, 1})
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"accuracy", c.Accuracy(), 3.0 / 6},
		{"precision a", c.Precision(0), 1.0 / 2},
		{"precision b", c.Precision(1), 2.0 / 4},
		{"recall a", c.Recall(0), 1.0 / 2},
		{"recall b", c.Recall(1), 2.0 / 3},
		{"recall c", c.Recall(2), 0},
	} {
		if math.Abs(tc.got-tc.want) > 1e-12 {
			t.Errorf("%s = %g, want %g", tc.name, tc.got, tc.want)
		}
	}
	if !math.IsNaN(c.Precision(2)) {
		t.Errorf("precision of a never-predicted class = %g, want NaN", c.Precision(2))
	}
	if s := c.String(); !strings.Contains(s, "accuracy 50.0% (6 samples)") {
		t.Errorf("String() = %q", s)
	}
}

// TestSearchPicksBest runs a small grid on the toy problem of
// TestFitLearnsAndKeepsReplay and checks the choice against the results.
func TestSearchPicksBest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	head := smallHead(rng)
	feat := func(shift float64) []float32 {
		f := make([]float32, 7)
		for i := range f {
			f[i] = float32(math.Max(0, rng.NormFloat64()+shift))
		}
		return f
	}
	var lab, rep [][]float32
	for i := 0; i < 40; i++ {
		lab = append(lab, feat(1))
		rep = append(rep, feat(-0.5))
	}
	labels := slices.Repeat([]int{1}, 40)
	tail := Tail{Head: head}
	d := &Data{Tail: tail, Train: NewSamples(tail, lab[:30], labels[:30]), Val: NewSamples(tail, lab[30:], labels[30:]),
		ReplayTrain: NewSamples(tail, rep[:30], nil), ReplayVal: NewSamples(tail, rep[30:], nil)}
	base := DefaultConfig
	base.Epochs = 30
	grid := Grid{Ranks: []int{1, 2}, AlphaPerRank: []float64{1}, LRs: []float64{1e-4, 1e-2}, WeightDecays: []float64{0}}
	configs := grid.Configs(base)
	if len(configs) != 4 || configs[3].Rank != 2 || configs[3].LR != 1e-2 || configs[3].Alpha != 2 {
		t.Fatalf("configs %+v", configs)
	}
	results, best, err := Search(d, configs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Config.Rank != configs[i].Rank || r.Config.LR != configs[i].LR {
			t.Errorf("result %d is for config %+v, want %+v", i, r.Config, configs[i])
		}
		if better(r.Best, results[best].Best) {
			t.Errorf("result %d (score %g, loss %g) beats the chosen %d (score %g, loss %g)",
				i, r.Best.Score(), r.Best.Loss, best, results[best].Best.Score(), results[best].Best.Loss)
		}
	}
	again, best2, _ := Search(d, configs, 1, nil)
	if best2 != best || again[best].Best != results[best].Best {
		t.Error("Search is not deterministic across worker counts")
	}
}
