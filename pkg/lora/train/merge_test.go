package train

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"

	"github.com/veil-ml/veil/internal/demoimages"
	"github.com/veil-ml/veil/internal/modelstore"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/lora"
)

// loadNet loads a float model, skipping the test if the models are not
// installed (failing instead when VEIL_REQUIRE_MODELS is set) and under js/wasm.
func loadNet(t testing.TB, name string) *infer.Net {
	t.Helper()
	if runtime.GOOS == "js" {
		t.Skip("model tests need the native file system and speed; skipped under js/wasm")
	}
	net, err := modelstore.LoadNet(name)
	if err != nil {
		if os.Getenv("VEIL_REQUIRE_MODELS") != "" {
			t.Fatalf("VEIL_REQUIRE_MODELS is set: %v", err)
		}
		t.Skipf("model %s not available (run `make models`): %v", name, err)
	}
	return net
}

// opIndex returns the index of the op named name.
func opIndex(t testing.TB, net *infer.Net, name string) int {
	t.Helper()
	for i := range net.Ops {
		if net.Ops[i].Name == name {
			return i
		}
	}
	t.Fatalf("%s has no op %q", net.Name, name)
	return -1
}

func randomLayer(rng *rand.Rand, layer string, rank, in, out int, conv bool, alpha float64) lora.LayerAdapter {
	l := lora.LayerAdapter{Layer: layer, Rank: rank, In: in, Out: out, KH: 1, KW: 1, Conv: conv, Alpha: alpha,
		A: make([]float32, rank*in), B: make([]float32, out*rank)}
	for i := range l.A {
		l.A[i] = float32(rng.NormFloat64() / math.Sqrt(float64(in)))
	}
	for i := range l.B {
		l.B[i] = float32(0.3 * rng.NormFloat64())
	}
	return l
}

// TestMergeIsExact builds an adapter by hand on dense_1 and the 1×1 conv
// Conv_1 of MobileNetV2, merges it into the float Net, and checks the
// forward pass against the stock network with each adapter's contribution
// added separately (unmerged, as PEFT computes it): Conv_1's output gets
// scale·B·(A·x) at every pixel, dense_1's gets scale·B·(A·h).
func TestMergeIsExact(t *testing.T) {
	const tol = 1e-5 // float32 merged weights vs. float64 side paths
	net := loadNet(t, "mobilenet_v2")
	rng := rand.New(rand.NewPCG(11, 12))
	conv := opIndex(t, net, "Conv_1")
	dense := opIndex(t, net, "dense_1")
	cin, cout := net.Shapes[net.Ops[conv].In[0]].C, net.Shapes[net.Ops[conv].Out].C
	ad := &lora.Adapter{Name: "by-hand", Layers: []lora.LayerAdapter{
		randomLayer(rng, "Conv_1", 2, cin, cout, true, 4),
		randomLayer(rng, "dense_1", 3, 1280, 256, false, 6),
	}}
	merged, err := MergeNet(net, []lora.Weighted{{Adapter: ad, Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []uint64{1, 2} {
		img := demoimages.Fractal.Generate(seed, 224)
		x := make([]float32, 224*224*3)
		infer.Preprocess(x, img.Pix, img.W, img.H, 224)
		got := slices.Clone(infer.NewFloat(merged).Run(x))

		// Stock network up to Conv_1's input, Conv_1 itself, then the side path.
		toConv := mustSlice(t, net, 0, net.Ops[conv].In[0])
		xc := slices.Clone(infer.NewFloat(toConv).Run(x))
		z := slices.Clone(infer.NewFloat(mustSlice(t, net, net.Ops[conv].In[0], net.Ops[conv].Out)).Run(xc))
		lc := &ad.Layers[0]
		for p := 0; p < len(xc)/cin; p++ {
			addLoRA(z[p*cout:(p+1)*cout], xc[p*cin:(p+1)*cin], lc)
		}
		feats := slices.Clone(infer.NewFloat(mustSlice(t, net, net.Ops[conv].Out, net.Ops[dense].In[0])).Run(z))

		// The head with dense_1's side path, in float64 (the trainer's forward).
		_, head, err := infer.SplitHead(net)
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewModel(Tail{Head: head}, []string{"dense_1"}, 3, 6, rng)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range ad.Layers[1].A {
			m.Layers[0].A[i] = float64(v)
		}
		for i, v := range ad.Layers[1].B {
			m.Layers[0].B[i] = float64(v)
		}
		want := m.forward(m.newPass(), &Sample{Features: feats}, 0, nil)
		base := infer.NewFloat(net).Run(x)
		moved, worst := 0.0, 0.0
		for k := range want {
			d := math.Abs(float64(got[k]) - want[k])
			if d > tol {
				t.Errorf("image %d class %d: merged %g, stock + adapter %g (|Δ| %.2g > %g)", seed, k, got[k], want[k], d, tol)
			}
			worst = math.Max(worst, d)
			moved = math.Max(moved, math.Abs(float64(base[k])-want[k]))
		}
		t.Logf("image %d: adapter moves the output by up to %.3g; merged vs. separate |Δ| ≤ %.2g", seed, moved, worst)
		if moved < 1e-3 {
			t.Errorf("image %d: the adapter hardly changes the output (%.2g); the test would prove nothing", seed, moved)
		}
	}
}

// addLoRA adds scale·B·(A·x) to y in float64, rounding once per output.
func addLoRA(y, x []float32, l *lora.LayerAdapter) {
	a := make([]float64, l.Rank)
	for q := range a {
		for i, v := range x {
			a[q] += float64(l.A[q*l.In+i]) * float64(v)
		}
	}
	for o := range y {
		s := 0.0
		for q, v := range a {
			s += float64(l.B[o*l.Rank+q]) * v
		}
		y[o] = float32(float64(y[o]) + l.Scale()*s)
	}
}

func mustSlice(t *testing.T, net *infer.Net, from, to int) *infer.Net {
	t.Helper()
	s, err := net.Slice(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestZeroAdapterIsIdentity checks that an adapter with B = 0, or applied
// with weight 0, leaves every output bit-identical.
func TestZeroAdapterIsIdentity(t *testing.T) {
	net := loadNet(t, "mobilenet_v2")
	rng := rand.New(rand.NewPCG(13, 14))
	conv := opIndex(t, net, "Conv_1")
	cin, cout := net.Shapes[net.Ops[conv].In[0]].C, net.Shapes[net.Ops[conv].Out].C
	full := &lora.Adapter{Name: "full", Layers: []lora.LayerAdapter{
		randomLayer(rng, "Conv_1", 2, cin, cout, true, 4),
		randomLayer(rng, "dense_1", 3, 1280, 256, false, 6),
		randomLayer(rng, "dense_3", 2, 128, 5, false, 2),
	}}
	zeroB := full.Clone()
	for i := range zeroB.Layers {
		clear(zeroB.Layers[i].B)
	}
	img := demoimages.Fractal.Generate(3, 224)
	x := make([]float32, 224*224*3)
	infer.Preprocess(x, img.Pix, img.W, img.H, 224)
	base := slices.Clone(infer.NewFloat(net).Run(x))
	for _, tc := range []struct {
		name string
		ws   []lora.Weighted
	}{
		{"B=0", []lora.Weighted{{Adapter: zeroB, Weight: 1}}},
		{"weight 0", []lora.Weighted{{Adapter: full, Weight: 0}}},
		{"B=0 and weight 0", []lora.Weighted{{Adapter: zeroB, Weight: 1}, {Adapter: full, Weight: 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			merged, err := MergeNet(net, tc.ws)
			if err != nil {
				t.Fatal(err)
			}
			for i := range net.Ops {
				if !slices.Equal(f32bits(merged.Ops[i].Weights), f32bits(net.Ops[i].Weights)) {
					t.Fatalf("op %q: weights changed", net.Ops[i].Name)
				}
			}
			got := infer.NewFloat(merged).Run(x)
			if !slices.Equal(f32bits(got), f32bits(base)) {
				t.Errorf("outputs %v, stock %v: not bit-identical", got, base)
			}
		})
	}
}

func f32bits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

// TestSplitHead checks the head each model exposes and that backbone + head
// reproduces the whole network.
func TestSplitHead(t *testing.T) {
	for _, tc := range []struct {
		model string
		names []string
		in    int
	}{
		{"mobilenet_v2", []string{"dense_1", "dense_2", "dense_3"}, 1280},
		{"mobilenet_v2_mid", []string{"dense"}, 1792},
	} {
		t.Run(tc.model, func(t *testing.T) {
			net := loadNet(t, tc.model)
			bb, head, err := infer.SplitHead(net)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, h := range head {
				names = append(names, h.Name)
			}
			if !slices.Equal(names, tc.names) || head[0].In != tc.in || head[len(head)-1].Act != infer.ActSoftmax {
				t.Fatalf("head %v (in %d, last act %v), want %v (in %d, softmax)", names, head[0].In, head[len(head)-1].Act, tc.names, tc.in)
			}
			ks := NetKernels(net)
			for _, h := range head {
				if k := ks[h.Name]; k == nil || &k.Data[0] != &h.Weights[0] {
					t.Errorf("NetKernels has no kernel %q aliasing the head weights", h.Name)
				}
			}
			hn, err := HeadNet(net)
			if err != nil {
				t.Fatal(err)
			}
			img := demoimages.Fractal.Generate(4, 200)
			x := make([]float32, net.InputSize*net.InputSize*3)
			infer.Preprocess(x, img.Pix, img.W, img.H, net.InputSize)
			want := slices.Clone(infer.NewFloat(net).Run(x))
			got := infer.NewFloat(hn).Run(infer.NewFloat(bb).Run(x))
			if !slices.Equal(f32bits(got), f32bits(want)) {
				t.Errorf("backbone + head %v, whole net %v", got, want)
			}
		})
	}
}
