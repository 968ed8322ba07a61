package quantize

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/veil-ml/veil/pkg/infer"
)

// LayerReport describes one quantized op.
type LayerReport struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Bytes      int    `json:"bytes"`       // int8 weights + float32 scales + int32 biases
	WeightSQNR DB     `json:"weight_sqnr"` // NaN for ops without weights
	OutputSQNR DB     `json:"output_sqnr"` // dequantized output vs float on the SQNR images; NaN if not measured
}

// DB is a signal-to-noise ratio in decibels. It encodes to JSON as a number
// rounded to 0.01 dB, or null when not finite (not measured, or exact).
type DB float64

// MarshalJSON implements json.Marshaler.
func (d DB) MarshalJSON() ([]byte, error) {
	v := float64(d)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)), nil
}

// Report is what Quantize measured.
type Report struct {
	Model      string        `json:"model"`
	Method     string        `json:"method"`
	Equalized  bool          `json:"equalized"` // cross-layer equalization was applied
	Images     int           `json:"images"`
	SQNRImages int           `json:"sqnr_images"`
	Layers     []LayerReport `json:"layers"`
	TotalBytes int           `json:"total_bytes"` // Σ Layers.Bytes
	// Agreement with the float net on the calibration images.
	Top1Agreement float64 `json:"top1_agreement"` // fraction of images with the same top class
	MeanAbsDiff   float64 `json:"mean_abs_diff"`  // mean over images and classes of |Δp|
	MaxAbsDiff    float64 `json:"max_abs_diff"`   // max over images and classes of |Δp|
}

// Agreement compares two sets of probability vectors: the fraction of equal
// argmaxes and the mean and max absolute difference.
func Agreement(a, b [][]float32) (top1, mean, maxd float64) {
	n := 0
	for i := range a {
		if argmax(a[i]) == argmax(b[i]) {
			top1++
		}
		for c := range a[i] {
			d := math.Abs(float64(a[i][c]) - float64(b[i][c]))
			mean += d
			maxd = max(maxd, d)
			n++
		}
	}
	if len(a) > 0 {
		top1 /= float64(len(a))
	}
	if n > 0 {
		mean /= float64(n)
	}
	return top1, mean, maxd
}

func argmax(p []float32) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// evaluate runs q on the calibration images and fills the report.
func (b *builder) evaluate(q *infer.QNet, calib [][]float32, floatProbs [][]float32) *Report {
	o := b.opts
	rep := &Report{Model: q.Name, Method: o.Method.String(), Equalized: o.Equalize, Images: len(calib), Layers: b.layers}
	for _, l := range b.layers {
		rep.TotalBytes += l.Bytes
	}
	nSQNR := max(min(o.SQNRImages, len(calib)), 0)
	rep.SQNRImages = nSQNR
	type noise struct{ sig, err []float64 }
	perImage := make([]noise, nSQNR)
	probs := make([][]float32, len(calib))
	execs := make([]*infer.Int8, o.Workers)
	runners := make([]*floatRunner, o.Workers)
	var mu sync.Mutex
	done := 0
	parallel(len(calib), o.Workers, func(w, i int) {
		if execs[w] == nil {
			execs[w] = infer.NewInt8(q)
		}
		var trace func(int, []int32)
		if i < nSQNR {
			if runners[w] == nil {
				runners[w] = newFloatRunner(b.net)
			}
			r := runners[w]
			r.run(calib[i])
			nz := noise{make([]float64, len(q.Ops)), make([]float64, len(q.Ops))}
			trace = func(j int, y []int32) {
				f := r.bufs[b.ftensor[j]]
				p := q.Tensors[q.Ops[j].Out].Q
				for k, v := range y {
					d := float64(f[k]) - float64(p.Real(v))
					nz.sig[j] += float64(f[k]) * float64(f[k])
					nz.err[j] += d * d
				}
			}
			perImage[i] = nz
		}
		probs[i] = append([]float32(nil), execs[w].RunTrace(calib[i], trace)...)
		mu.Lock()
		done++
		if o.Progress != nil {
			o.Progress("evaluate", done, len(calib))
		}
		mu.Unlock()
	})
	for j := range rep.Layers {
		rep.Layers[j].OutputSQNR = DB(math.NaN())
		if nSQNR == 0 || q.Ops[j].Act == infer.ActSoftmax {
			continue
		}
		var sig, e float64
		for _, nz := range perImage {
			sig += nz.sig[j]
			e += nz.err[j]
		}
		rep.Layers[j].OutputSQNR = DB(sqnrDB(sig, e))
	}
	rep.Top1Agreement, rep.MeanAbsDiff, rep.MaxAbsDiff = Agreement(probs, floatProbs)
	return rep
}

// WriteText prints the report as a table.
func (r *Report) WriteText(w io.Writer) error {
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	p("model %s: %d layers, calibration %s on %d images (output SQNR on %d), equalization %v\n", r.Model, len(r.Layers), r.Method, r.Images, r.SQNRImages, r.Equalized)
	p("%-4s %-10s %10s %10s %10s  %s\n", "#", "kind", "bytes", "w SQNR", "out SQNR", "layer")
	for i, l := range r.Layers {
		p("%-4d %-10s %10d %10s %10s  %s\n", i, l.Kind, l.Bytes, db(l.WeightSQNR), db(l.OutputSQNR), shortName(l.Name))
	}
	p("total %d bytes of weights, scales and biases\n", r.TotalBytes)
	p("vs float on the calibration images: top-1 agreement %.2f%%, mean |Δp| %.5f, max |Δp| %.5f\n", 100*r.Top1Agreement, r.MeanAbsDiff, r.MaxAbsDiff)
	return err
}

func db(d DB) string {
	v := float64(d)
	if math.IsNaN(v) {
		return "-"
	}
	if math.IsInf(v, 1) {
		return "inf"
	}
	return fmt.Sprintf("%.1f dB", v)
}

// shortName keeps the tail of long graph-model node names.
func shortName(s string) string {
	const n = 60
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
