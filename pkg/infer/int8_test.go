package infer_test

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/veil-ml/veil/internal/qtest"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/veilfile"
)

// outputHash is the SHA-256 of the float32 bits of probs, little-endian.
func outputHash(probs ...[]float32) string {
	h := sha256.New()
	var b [4]byte
	for _, p := range probs {
		for _, v := range p {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// The hashes below were computed natively (linux/amd64); the same test run
// under GOOS=js GOARCH=wasm must reproduce them bit for bit:
//
//	PATH=$(go env GOROOT)/lib/wasm:$PATH GOOS=js GOARCH=wasm go test -run Deterministic ./pkg/infer
const (
	tinyOutputHash        = "9fdc86a2bd84dab5d31ca8b689dbd030e6cdf8c2261d6ccd5888d3787d300541"
	tiny12OutputHash      = "03b970f1d902ca79adb9e514a4fcc5867ffe08e231e261070a6350d8d3ee903d"
	tinyMixedOutputHash   = "814ec7e22075de3a4e7de25e0602adc0a3678f9dd7fdbd740d549d942ea092d9"
	mobilenetV2OutputHash = "8209986bad953be9489cc2f56ba6c340d4e337f1798cc2f7dae7a20298df6230"
)

var update = flag.Bool("update", false, "rewrite testdata/tiny*.veil")

// tinyFixtures are what the quantizer makes of qtest.TinyNet(1, 12) with
// 8- and 12-bit activations and with a mix (key 0, as QNet.ActBits says).
var tinyFixtures = map[int]string{8: "testdata/tiny.veil", 12: "testdata/tiny12.veil", 0: "testdata/tiny_mixed.veil"}

// TestTinyFixture checks that testdata/tiny*.veil hold what
// the quantizer makes of qtest.TinyNet(1, 12); -update rewrites them. The
// determinism tests read the files, so they exercise only the executor. It
// compares what the files hold, not their bytes: Go 1.27's compress/flate
// compresses the same tensors to other (equally valid) bytes than Go 1.26's.
func TestTinyFixture(t *testing.T) {
	for bits, fixture := range tinyFixtures {
		data, err := veilfile.Encode(qtest.TinyQNetBits(1, 12, bits), &veilfile.Meta{Source: "qtest.TinyNet(1, 12)"}, veilfile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(fixture, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		old, err := os.ReadFile(fixture)
		if err != nil {
			t.Fatal(err)
		}
		qOld, mOld, err := veilfile.Read(old)
		if err != nil {
			t.Fatal(err)
		}
		qNew, mNew, err := veilfile.Read(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(qOld, qNew) || !reflect.DeepEqual(mOld, mNew) {
			t.Fatalf("%s is stale or the quantizer changed on this platform; run go test -run TinyFixture -update ./pkg/infer natively", fixture)
		}
	}
}

// readTiny reads the tiny fixture with activations of bits.
func readTiny(t *testing.T, bits int) *infer.QNet {
	t.Helper()
	data, err := os.ReadFile(tinyFixtures[bits])
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := veilfile.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	if q.ActBits() != bits {
		t.Fatalf("%s: activations of %d bits", tinyFixtures[bits], q.ActBits())
	}
	return q
}

func TestInt8DeterministicTiny(t *testing.T) {
	for bits, want := range map[int]string{8: tinyOutputHash, 12: tiny12OutputHash, 0: tinyMixedOutputHash} {
		e := infer.NewInt8(readTiny(t, bits))
		var outs [][]float32
		for i := range 8 {
			outs = append(outs, append([]float32(nil), e.Run(qtest.Input(uint64(100+i), 12))...))
		}
		if got := outputHash(outs...); got != want {
			t.Errorf("%d-bit: output hash %s, want %s (outputs %v)", bits, got, want, outs)
		}
	}
}

// TestInt8FastMatchesRef runs the tiny nets, 8-bit, 12-bit and mixed, with
// the fast kernels and with the reference kernels only: the same bits.
func TestInt8FastMatchesRef(t *testing.T) {
	for _, bits := range []int{8, 12, 0} {
		q := readTiny(t, bits)
		fast, ref := infer.NewInt8(q), infer.NewInt8Ref(q)
		for i := range 8 {
			x := qtest.Input(uint64(200+i), 12)
			a := append([]float32(nil), fast.Run(x)...)
			if b := ref.Run(x); !reflect.DeepEqual(a, b) {
				t.Fatalf("%d-bit, input %d: fast %v, reference %v", bits, i, a, b)
			}
		}
	}
}

// refInputA is REFERENCE.md's sanity input A, preprocessed.
func refInputA(s int) []float32 {
	pix := make([]uint8, s*s*3)
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			i := (y*s + x) * 3
			pix[i], pix[i+1], pix[i+2] = uint8(255*x/(s-1)), uint8(255*y/(s-1)), uint8(255*(x+y)/(2*(s-1)))
		}
	}
	in := make([]float32, s*s*3)
	infer.Preprocess(in, pix, s, s, s)
	return in
}

func TestInt8DeterministicMobileNetV2(t *testing.T) {
	data, err := os.ReadFile("../../models/mobilenet_v2.veil")
	if err != nil {
		t.Skip("models/mobilenet_v2.veil not written yet (go run ./tools/quantize -model mobilenet_v2 -o models/mobilenet_v2.veil)")
	}
	q, _, err := veilfile.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	probs := infer.NewInt8(q).Run(refInputA(q.InputSize))
	if got := outputHash(probs); got != mobilenetV2OutputHash {
		t.Fatalf("output hash %s, want %s (probabilities %v)", got, mobilenetV2OutputHash, probs)
	}
}

func TestInt8RunAllocatesNothing(t *testing.T) {
	for _, bits := range []int{8, 12, 0} { // 0: mixed
		e := infer.NewInt8(qtest.TinyQNetBits(2, 12, bits))
		x := qtest.Input(3, 12)
		e.Run(x)
		if n := testing.AllocsPerRun(20, func() { e.Run(x) }); n != 0 {
			t.Fatalf("%d-bit: Run allocates %v times per call", bits, n)
		}
	}
}

// TestInt8MatchesFloat checks the quantized tiny net against its float net.
func TestInt8MatchesFloat(t *testing.T) {
	const tol = 0.05 // |Δp| on a 3-class tiny net with random weights
	for seed := uint64(1); seed <= 4; seed++ {
		n := qtest.TinyNet(seed, 12)
		q := qtest.TinyQNet(seed, 12)
		f, e := infer.NewFloat(n), infer.NewInt8(q)
		for i := range 4 {
			x := qtest.Input(seed*100+uint64(i), 12)
			pf, pq := f.Run(x), e.Run(x)
			for c := range pf {
				if d := math.Abs(float64(pf[c] - pq[c])); d > tol {
					t.Fatalf("seed %d input %d: float %v, int8 %v", seed, i, pf, pq)
				}
			}
		}
	}
}

func BenchmarkInt8Tiny(b *testing.B) { benchInt8(b, qtest.TinyQNet(1, 12)) }

func BenchmarkInt8MobileNetV2(b *testing.B)    { benchInt8Model(b, "mobilenet_v2") }
func BenchmarkInt8MobileNetV2Mid(b *testing.B) { benchInt8Model(b, "mobilenet_v2_mid") }
func BenchmarkInt8InceptionV3(b *testing.B)    { benchInt8Model(b, "inception_v3") }

func benchInt8Model(b *testing.B, name string) {
	data, err := os.ReadFile("../../models/" + name + ".veil")
	if err != nil {
		b.Skipf("models/%s.veil not written yet", name)
	}
	q, _, err := veilfile.Read(data)
	if err != nil {
		b.Fatal(err)
	}
	benchInt8(b, q)
}

func benchInt8(b *testing.B, q *infer.QNet) {
	e := infer.NewInt8(q)
	x := refInputA(q.InputSize)
	b.ReportAllocs()
	for b.Loop() {
		e.Run(x)
	}
}

var opProfile = flag.Bool("opprofile", false, "print where Int8.Run spends its time, per op class, for each model")

// TestInt8OpProfile prints, with -opprofile, the time per op class (kind,
// window, stride) of one Run on each model, the median of several runs.
//
//	go test -run OpProfile -opprofile ./pkg/infer
func TestInt8OpProfile(t *testing.T) {
	if !*opProfile {
		t.Skip("run with -opprofile")
	}
	for _, name := range []string{"mobilenet_v2", "mobilenet_v2_mid", "inception_v3"} {
		data, err := os.ReadFile("../../models/" + name + ".veil")
		if err != nil {
			t.Skipf("models/%s.veil not written yet", name)
		}
		q, _, err := veilfile.Read(data)
		if err != nil {
			t.Fatal(err)
		}
		e := infer.NewInt8(q)
		x := refInputA(q.InputSize)
		if *abRuns > 0 {
			ref := infer.NewInt8Ref(q)
			fast, slow := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
			for range *abRuns {
				t0 := time.Now()
				e.Run(x)
				t1 := time.Now()
				ref.Run(x)
				fast, slow = min(fast, t1.Sub(t0)), min(slow, time.Since(t1))
			}
			t.Logf("%s: best of %d: fast kernels %.1f ms, reference conv and depthwise kernels %.1f ms", name, *abRuns, fast.Seconds()*1e3, slow.Seconds()*1e3)
		}
		const runs = 5
		perOp := make([][]time.Duration, len(q.Ops))
		for range runs {
			last := time.Now()
			e.RunTrace(x, func(op int, _ []int32) {
				now := time.Now()
				perOp[op] = append(perOp[op], now.Sub(last))
				last = now
			})
		}
		byClass := map[string]time.Duration{}
		macs := map[string]int64{}
		var total time.Duration
		for i, ds := range perOp {
			if len(ds) == 0 {
				continue
			}
			slices.Sort(ds)
			d := ds[len(ds)/2]
			op := &q.Ops[i]
			class := op.Kind.String()
			if op.Kind == infer.QConv || op.Kind == infer.QDepthwise || op.Kind == infer.QMaxPool || op.Kind == infer.QAvgPool {
				class = fmt.Sprintf("%s %dx%d/%d", class, op.KH, op.KW, op.SH)
			}
			byClass[class] += d
			total += d
			if len(op.Weights) > 0 && op.Kind != infer.QDense {
				ys := q.Tensors[op.Out].Shape
				n := int64(len(op.Weights)) * int64(ys.H*ys.W)
				if op.Kind == infer.QDepthwise {
					n = int64(len(op.Weights)) * int64(ys.H*ys.W)
				}
				macs[class] += n
			}
		}
		classes := slices.Collect(maps.Keys(byClass))
		slices.SortFunc(classes, func(a, b string) int { return cmp.Compare(byClass[b], byClass[a]) })
		t.Logf("%s: %.1f ms per run", name, total.Seconds()*1e3)
		for _, c := range classes {
			d := byClass[c]
			gops := ""
			if macs[c] > 0 {
				gops = fmt.Sprintf("  %5.0f MMAC  %5.2f GMAC/s", float64(macs[c])/1e6, float64(macs[c])/d.Seconds()/1e9)
			}
			t.Logf("  %-18s %7.2f ms  %4.1f%%%s", c, d.Seconds()*1e3, 100*d.Seconds()/total.Seconds(), gops)
		}
	}
}

var abRuns = flag.Int("ab", 0, "with -opprofile: also time this many runs of the reference kernels against the fast ones, interleaved")

// TestPackInt8Shared checks that runners sharing one PackInt8 give the bits
// of runners that packed alone, and that packing leaves the QNet as it was.
func TestPackInt8Shared(t *testing.T) {
	q, before := readTiny(t, 8), readTiny(t, 8)
	w := infer.PackInt8(q)
	if !reflect.DeepEqual(q, before) {
		t.Fatal("PackInt8 changed the QNet")
	}
	a, b, alone := infer.NewInt8Packed(w), infer.NewInt8Packed(w), infer.NewInt8(q)
	for i := range 4 {
		x := qtest.Input(uint64(200+i), 12)
		want := slices.Clone(alone.Run(x))
		if got := a.Run(x); !slices.Equal(got, want) {
			t.Fatalf("input %d: shared runner a %v, alone %v", i, got, want)
		}
		if got := b.Run(x); !slices.Equal(got, want) {
			t.Fatalf("input %d: shared runner b %v, alone %v", i, got, want)
		}
	}
}

// TestInt8ClassifierOwning checks that a classifier given its QNet answers
// as one that is not, and releases the raw weights of the convs it packs.
func TestInt8ClassifierOwning(t *testing.T) {
	q, owned, orig := readTiny(t, 8), readTiny(t, 8), readTiny(t, 8)
	pix := make([]uint8, 12*12*3)
	for i := range pix {
		pix[i] = uint8(i * 7)
	}
	want, err := infer.NewInt8Classifier(q).ClassifyRGB(pix, 12, 12)
	if err != nil {
		t.Fatal(err)
	}
	got, err := infer.NewInt8ClassifierOwning(owned).ClassifyRGB(pix, 12, 12)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("owning %v, not owning %v", got, want)
	}
	released := 0
	for i, op := range owned.Ops {
		if op.Kind == infer.QConv && op.Weights == nil {
			released++
		}
		if !slices.Equal(q.Ops[i].Weights, orig.Ops[i].Weights) {
			t.Fatalf("op %d: NewInt8Classifier changed its caller's weights", i)
		}
	}
	if released == 0 {
		t.Fatal("no conv weights released")
	}
}

func TestValidateRejectsInt8Min(t *testing.T) {
	q := qtest.TinyQNet(3, 8)
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	for i := range q.Ops {
		if n := len(q.Ops[i].Weights); n > 0 {
			q.Ops[i].Weights[n-1] = -128
			err := q.Validate()
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("weight %d is -128", n-1)) {
				t.Fatalf("op %d: Validate with a -128 weight: %v", i, err)
			}
			return
		}
	}
	t.Fatal("TinyQNet has no weights")
}

// TestInt8RunRGB checks that RunRGB, which preprocesses and quantizes row
// by row, gives Run(Preprocess(…))'s bits, for images the size of the
// input and larger and smaller, square or not; and that an int8
// Classifier (which uses it) gives the same.
func TestInt8RunRGB(t *testing.T) {
	q := readTiny(t, 8)
	e := infer.NewInt8(q)
	c := infer.NewInt8Classifier(readTiny(t, 8))
	s := q.InputSize
	rng := rand.New(rand.NewPCG(5, 6))
	in := make([]float32, s*s*3)
	for _, wh := range [][2]int{{s, s}, {1, 1}, {s + 1, s}, {3 * s, 2 * s}, {7, 40}, {s - 1, s - 1}} {
		w, h := wh[0], wh[1]
		pix := make([]uint8, w*h*3)
		for i := range pix {
			pix[i] = uint8(rng.Uint32())
		}
		infer.Preprocess(in, pix, w, h, s)
		want := append([]float32(nil), e.Run(in)...)
		got := e.RunRGB(pix, w, h)
		if !slices.Equal(got, want) {
			t.Fatalf("%dx%d: RunRGB %v, Run(Preprocess) %v", w, h, got, want)
		}
		viaClassifier, err := c.ClassifyRGB(pix, w, h)
		if err != nil || !slices.Equal(viaClassifier, want) {
			t.Fatalf("%dx%d: ClassifyRGB %v (%v), want %v", w, h, viaClassifier, err, want)
		}
		if n := testing.AllocsPerRun(3, func() { e.RunRGB(pix, w, h) }); n != 0 {
			t.Errorf("%dx%d: RunRGB allocates %v times", w, h, n)
		}
	}
}

// ringRows is a RowSource as the wasm module makes one: each row is copied
// into the older of two buffers, so a row is overwritten two calls later,
// which is all RowSource promises. It counts the calls.
func ringRows(pix []uint8, w int, calls *int) infer.RowSource {
	bufs := [2][]uint8{make([]uint8, w*3), make([]uint8, w*3)}
	return func(y int) []uint8 {
		b := bufs[*calls%2]
		*calls++
		copy(b, pix[y*w*3:][:w*3])
		return b
	}
}

// TestClassifierPrepareRGB checks that an image read row by row through a
// reusing RowSource, then run, gives Run(Preprocess(…))'s bits, for the
// int8 classifier and one whose runner preprocesses nothing itself (as the
// float engine), reading each output row's one or two source rows.
func TestClassifierPrepareRGB(t *testing.T) {
	q := readTiny(t, 8)
	s := q.InputSize
	// A Runner without LoadRGB, as the float engine is: the classifier
	// preprocesses into a float image for it.
	plain := infer.NewClassifier(s, q.Classes, func() infer.Runner { return struct{ infer.Runner }{infer.NewInt8(readTiny(t, 8))} })
	classifiers := map[string]*infer.Classifier{"int8": infer.NewInt8Classifier(q), "plain runner": plain}
	e := infer.NewInt8(readTiny(t, 8))
	in := make([]float32, s*s*3)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, wh := range [][2]int{{s, s}, {1, 1}, {s + 1, s}, {3 * s, 2 * s}, {7, 40}, {s - 1, s - 1}} {
		w, h := wh[0], wh[1]
		pix := make([]uint8, w*h*3)
		for i := range pix {
			pix[i] = uint8(rng.Uint32())
		}
		infer.Preprocess(in, pix, w, h, s)
		want := append([]float32(nil), e.Run(in)...)
		for name, c := range classifiers {
			calls := 0
			p, err := c.PrepareRGB(w, h, ringRows(pix, w, &calls))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Run()
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("%s %dx%d: PrepareRGB then Run %v (%v), Run(Preprocess) %v", name, w, h, got, err, want)
			}
			if max := 2 * s; calls > max {
				t.Errorf("%s %dx%d: %d rows read for %d output rows", name, w, h, calls, s)
			}
			if _, err := p.Run(); err == nil {
				t.Errorf("%s: a second Run did not fail", name)
			}
		}
	}
}

// TestValidateActBits checks what Validate accepts of a 12-bit QNet: adds,
// concats and pools of one width, zero points up to the top value, and no channel whose
// int32 accumulator could overflow on 12-bit inputs.
func TestValidateActBits(t *testing.T) {
	q := qtest.TinyQNetBits(3, 8, 12)
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	// An add, a concat and a pool read and write one width.
	for i, op := range q.Ops {
		if op.Kind != infer.QAdd && op.Kind != infer.QConcat && op.Kind != infer.QMaxPool && op.Kind != infer.QAvgPool {
			continue
		}
		c := *q
		c.Tensors = slices.Clone(q.Tensors)
		x := &c.Tensors[op.In[len(op.In)-1]].Q
		x.Wide, x.Zero = false, min(x.Zero, 255)
		// The first op to see the two widths says so (a pool: its
		// quantization differs).
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "width") && !strings.Contains(err.Error(), fmt.Sprintf("op %d", i)) {
			t.Errorf("%v with one 8-bit input among 12-bit tensors: %v", op.Kind, err)
		}
	}
	c := *q
	c.Tensors = slices.Clone(q.Tensors)
	c.Tensors[1].Q.Zero = 4096
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "zero 4096 is invalid") {
		t.Errorf("zero point 4096: %v", err)
	}
	c.Tensors[1].Q.Zero = 4095
	if err := c.Validate(); err != nil {
		t.Errorf("zero point 4095: %v", err)
	}
	// A bias that leaves less headroom than top·Σ|w| in one channel.
	for i := range q.Ops {
		op := &q.Ops[i]
		if len(op.Bias) == 0 {
			continue
		}
		c := *q
		c.Ops = slices.Clone(q.Ops)
		c.Ops[i].Bias = slices.Clone(op.Bias)
		c.Ops[i].Bias[0] = 1<<31 - 1 - 4095
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "channel 0 could overflow") {
			t.Fatalf("op %d with an overflowing bias: %v", i, err)
		}
		return
	}
	t.Fatal("TinyQNet has no weights")
}
