package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/veil-ml/veil/pkg/infer"
)

// smallHead is a random 3-layer head 7 → 6 relu → 5 relu → 4 softmax.
func smallHead(rng *rand.Rand) []infer.HeadLayer {
	dims := []int{7, 6, 5, 4}
	acts := []infer.Activation{infer.ActReLU, infer.ActReLU, infer.ActSoftmax}
	var h []infer.HeadLayer
	for i := 0; i < 3; i++ {
		l := infer.HeadLayer{Name: []string{"dense_1", "dense_2", "dense_3"}[i], Op: i, In: dims[i], Out: dims[i+1], Act: acts[i],
			Weights: make([]float32, dims[i]*dims[i+1]), Bias: make([]float32, dims[i+1])}
		for j := range l.Weights {
			l.Weights[j] = float32(rng.NormFloat64() / math.Sqrt(float64(dims[i])))
		}
		for j := range l.Bias {
			l.Bias[j] = float32(0.3 * rng.NormFloat64())
		}
		h = append(h, l)
	}
	return h
}

// TestBackwardMatchesFiniteDifferences checks the manual backprop of the
// LoRA factors against central differences of the loss, with and without
// dropout (the same mask each pass, from a re-seeded stream).
func TestBackwardMatchesFiniteDifferences(t *testing.T) {
	const tol = 1e-6 // central differences with h = 1e-6 in float64 are good to about 1e-9
	for _, dropout := range []float64{0, 0.3} {
		rng := rand.New(rand.NewPCG(1, 2))
		head := smallHead(rng)
		m, err := NewModel(Tail{Head: head}, nil, 2, 3, rng)
		if err != nil {
			t.Fatal(err)
		}
		for li := range m.Layers { // B starts at zero; make it non-zero so every path matters
			for j := range m.Layers[li].B {
				m.Layers[li].B[j] = 0.5 * rng.NormFloat64()
			}
		}
		x := make([]float32, 7)
		for i := range x {
			x[i] = float32(rng.Float64())
		}
		target := []float64{0.1, 0.2, 0.6, 0.1}
		p := m.newPass()
		loss := func() float64 {
			return crossEntropy(target, m.forward(p, &Sample{Features: x}, dropout, rand.New(rand.NewPCG(9, 9))))
		}
		loss()
		p.zeroGrad()
		m.backward(p, &Sample{Features: x}, target, 1)
		for li := range m.Layers {
			for _, f := range []struct {
				name  string
				theta []float64
				grad  []float64
			}{{"A", m.Layers[li].A, p.grad.Layers[li].A}, {"B", m.Layers[li].B, p.grad.Layers[li].B}} {
				for j := range f.theta {
					old := f.theta[j]
					f.theta[j] = old + 1e-6
					up := loss()
					f.theta[j] = old - 1e-6
					down := loss()
					f.theta[j] = old
					num := (up - down) / 2e-6
					if d := math.Abs(num - f.grad[j]); d > tol*math.Max(1, math.Abs(num)) {
						t.Errorf("dropout %g layer %d %s[%d]: backprop %g, finite difference %g", dropout, li, f.name, j, f.grad[j], num)
					}
				}
			}
		}
	}
}

// TestZ0CacheMatchesFullForward checks that the cached first-layer product
// gives the same probabilities as computing it.
func TestZ0CacheMatchesFullForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	head := smallHead(rng)
	feats := [][]float32{{1, 0, 2, 0.5, 0, 0, 3}, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}}
	s := NewSamples(Tail{Head: head}, feats, []int{0, 1})
	m, _ := NewModel(Tail{Head: head}, nil, 2, 2, rng)
	for j := range m.Layers[0].B {
		m.Layers[0].B[j] = 0.1 * float64(j)
	}
	p := m.newPass()
	for i := range s {
		a := append([]float64(nil), m.forward(p, &s[i], 0, nil)...)
		b := m.forward(p, &Sample{Features: s[i].Features}, 0, nil)
		for k := range a {
			if math.Abs(a[k]-b[k]) > 1e-12 {
				t.Fatalf("sample %d: cached %v, full %v", i, a, b)
			}
		}
	}
}

// TestFitLearnsAndKeepsReplay trains on a toy problem: the labelled samples
// should move to their labels, the replay samples should keep their answers.
func TestFitLearnsAndKeepsReplay(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	head := smallHead(rng)
	randFeat := func(shift float64) []float32 {
		f := make([]float32, 7)
		for i := range f {
			f[i] = float32(math.Max(0, rng.NormFloat64()+shift))
		}
		f[0] += float32(2 * shift)
		return f
	}
	var train, val, replay [][]float32
	for i := 0; i < 30; i++ {
		train = append(train, randFeat(1))
		val = append(val, randFeat(1))
		replay = append(replay, randFeat(-0.5))
	}
	labels := make([]int, 30)
	for i := range labels {
		labels[i] = 2
	}
	tail := Tail{Head: head}
	d := &Data{Tail: tail, Train: NewSamples(tail, train, labels), Val: NewSamples(tail, val, labels),
		ReplayTrain: NewSamples(tail, replay[:20], nil), ReplayVal: NewSamples(tail, replay[20:], nil)}
	before := Evaluate(stockModel(tail), d.Val, d.ReplayVal, 1)
	cfg := DefaultConfig
	cfg.Epochs, cfg.Patience = 150, 0
	res, err := Fit(d, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Best.Accuracy < 0.9 || res.Best.Accuracy <= before.Accuracy {
		t.Errorf("validation accuracy %.2f (before %.2f), want ≥ 0.9", res.Best.Accuracy, before.Accuracy)
	}
	if res.Best.Agreement < 0.9 {
		t.Errorf("replay agreement %.2f, want ≥ 0.9", res.Best.Agreement)
	}
}

// benchmarkFit times one epoch over n samples of MobileNetV2's head shape
// (1280 → 256 → 128 → 5) with as many replay samples.
func benchmarkFit(b *testing.B, n int) {
	rng := rand.New(rand.NewPCG(7, 8))
	dims := []int{1280, 256, 128, 5}
	var head []infer.HeadLayer
	for i := 0; i < 3; i++ {
		l := infer.HeadLayer{Name: []string{"dense_1", "dense_2", "dense_3"}[i], In: dims[i], Out: dims[i+1], Act: infer.ActReLU,
			Weights: make([]float32, dims[i]*dims[i+1]), Bias: make([]float32, dims[i+1])}
		for j := range l.Weights {
			l.Weights[j] = float32(rng.NormFloat64() / math.Sqrt(float64(dims[i])))
		}
		head = append(head, l)
	}
	head[2].Act = infer.ActSoftmax
	feats := make([][]float32, n)
	for i := range feats {
		feats[i] = make([]float32, 1280)
		for j := range feats[i] {
			feats[i][j] = float32(math.Max(0, rng.NormFloat64()))
		}
	}
	tail := Tail{Head: head}
	d := &Data{Tail: tail, Train: NewSamples(tail, feats, make([]int, n)), ReplayTrain: NewSamples(tail, feats, nil)}
	cfg := DefaultConfig
	cfg.Epochs, cfg.MinEpochs = 1, 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Fit(d, cfg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitEpoch128(b *testing.B) { benchmarkFit(b, 128) }
