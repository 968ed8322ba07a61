package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/veil-ml/veil/internal/demoimages"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/lora"
)

// smallStem is a random stem of 3 pixels, 4 → 7 channels (smallHead's input).
func smallStem(rng *rand.Rand) *Stem {
	s := &Stem{Name: "Conv_1", Pixels: 3, In: 4, Out: 7, Act: infer.ActReLU6,
		W: make([]float64, 28), Bias: make([]float64, 7), Mul: make([]float64, 7), Add: make([]float64, 7)}
	for i := range s.W {
		s.W[i] = rng.NormFloat64()
	}
	for c := range s.Mul {
		s.Bias[c], s.Mul[c], s.Add[c] = 0.2*rng.NormFloat64(), 0.5+rng.Float64(), 0.5*rng.NormFloat64()+1
	}
	return s
}

// TestStemBackwardMatchesFiniteDifferences checks the stem's and the head's
// factor gradients when the stem is trained too.
func TestStemBackwardMatchesFiniteDifferences(t *testing.T) {
	const tol = 1e-6
	rng := rand.New(rand.NewPCG(21, 22))
	tail := Tail{Head: smallHead(rng), Stem: smallStem(rng)}
	m, err := NewModel(tail, nil, 2, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]float64{m.Stem.B, m.Layers[0].B, m.Layers[1].B, m.Layers[2].B} {
		for j := range b {
			b[j] = 0.5 * rng.NormFloat64()
		}
	}
	s := &Sample{Features: make([]float32, 12)}
	for i := range s.Features {
		s.Features[i] = float32(rng.Float64())
	}
	target := []float64{0.7, 0.1, 0.1, 0.1}
	p := m.newPass()
	loss := func() float64 { return crossEntropy(target, m.forward(p, s, 0, nil)) }
	loss()
	p.zeroGrad()
	m.backward(p, s, target, 1)
	check := func(name string, theta, grad []float64) {
		for j := range theta {
			old := theta[j]
			theta[j] = old + 1e-6
			up := loss()
			theta[j] = old - 1e-6
			down := loss()
			theta[j] = old
			num := (up - down) / 2e-6
			if math.Abs(num-grad[j]) > tol*math.Max(1, math.Abs(num)) {
				t.Errorf("%s[%d]: backprop %g, finite difference %g", name, j, grad[j], num)
			}
		}
	}
	check("stem A", m.Stem.A, p.grad.Stem.A)
	check("stem B", m.Stem.B, p.grad.Stem.B)
	check("dense_1 A", m.Layers[0].A, p.grad.Layers[0].A)
	check("dense_3 B", m.Layers[2].B, p.grad.Layers[2].B)
}

// TestStemMatchesEngine checks, on MobileNetV2's Conv_1, that the trainer's
// float64 tail (BatchNorm folded, relu6, pool, head) gives what the float
// engine gives, stock and with a random adapter merged.
func TestStemMatchesEngine(t *testing.T) {
	for _, model := range []string{"mobilenet_v2", "mobilenet_v2_mid"} {
		t.Run(model, func(t *testing.T) { testStemMatchesEngine(t, model) })
	}
}

func testStemMatchesEngine(t *testing.T, model string) {
	const tol = 1e-5
	net := loadNet(t, model)
	for _, bad := range []string{"dense_1", "block_16_project", "block_16_depthwise", "nope"} {
		if _, err := NewStem(net, bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("NewStem(%q): error %v, want one naming the op", bad, err)
		}
	}
	ex, err := NewExtractor(net, "Conv_1")
	if err != nil {
		t.Fatal(err)
	}
	imgs := []*demoimages.Image{demoimages.Fractal.Generate(5, 224), demoimages.Controls[0].Generate(5, 224)}
	feats, err := ex.Features(Images(imgs), len(imgs), 1, Augment{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	samples := NewSamples(ex.Tail, feats, nil)
	rng := rand.New(rand.NewPCG(23, 24))
	last := ex.Tail.Head[len(ex.Tail.Head)-1].Name
	m, err := NewModel(ex.Tail, []string{ex.Tail.Stem.Name, last}, 2, 4, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]float64{m.Stem.B, m.Layers[len(m.Layers)-1].B} {
		for j := range b {
			b[j] = 0.05 * rng.NormFloat64()
		}
	}
	ad := m.Adapter("stem")
	if len(ad.Layers) != 2 || !ad.Layers[0].Conv || infer.ShortLayerName(ad.Layers[0].Layer) != "Conv_1" {
		t.Fatalf("adapter layers %+v", ad.Layers)
	}
	merged, err := MergeNet(net, []lora.Weighted{{Adapter: ad, Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		x := make([]float32, 224*224*3)
		infer.Preprocess(x, img.Pix, img.W, img.H, 224)
		stock := slices.Clone(infer.NewFloat(net).Run(x))
		got := infer.NewFloat(merged).Run(x)
		// The model's float64 factors round to float32 in the adapter; use those.
		want := m.forward(m.newPass(), &samples[i], 0, nil)
		moved := 0.0
		for k := range stock {
			if d := math.Abs(float64(stock[k]) - samples[i].Base[k]); d > tol {
				t.Errorf("image %d class %d: stock engine %g, trainer %g", i, k, stock[k], samples[i].Base[k])
			}
			if d := math.Abs(float64(got[k]) - want[k]); d > tol {
				t.Errorf("image %d class %d: merged engine %g, trainer with adapter %g", i, k, got[k], want[k])
			}
			moved = math.Max(moved, math.Abs(float64(got[k]-stock[k])))
		}
		if moved < 1e-3 {
			t.Errorf("image %d: the adapter hardly changes the output (%.2g)", i, moved)
		}
	}
}
