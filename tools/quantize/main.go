// Command quantize turns a float nsfwjs model (plus optional LoRA adapters)
// into one int8 .veil model file.
//
//	go run ./tools/quantize -model mobilenet_v2 -o models/mobilenet_v2.veil
//
// See -h for the flags. The report goes to stdout (-json for JSON),
// progress and errors to stderr. Exit status: 0 success, 1 failure, 2 usage.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/veil-ml/veil/pkg/calibset"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/infer/decode"
	"github.com/veil-ml/veil/pkg/infer/tfjs"
	"github.com/veil-ml/veil/pkg/lora"
	"github.com/veil-ml/veil/pkg/lora/train"
	"github.com/veil-ml/veil/pkg/quantize"
	"github.com/veil-ml/veil/pkg/veilfile"
)

const usage = `usage: quantize -model NAME_OR_TFJS_DIR [-lora PATH[@WEIGHT]]... [-calib DIR] -o OUT.veil

Quantize a TF.js nsfwjs model to int8 and write it as one .veil file:
merge LoRA adapters (if any) into the float weights, fold BatchNorm into
the convolutions, calibrate activation ranges on sample images (12-bit
activations by default, 8 with -act-bits 8: faster and leaner, further
from nsfwjs), quantize weights per output channel, and report per-layer
size and SQNR and the agreement with the float model on the calibration
images.

NAME is mobilenet_v2, mobilenet_v2_mid or inception_v3 (models/tfjs/NAME);
anything else is taken as a TF.js model directory (model.json + shards).
-lora takes a kohya .safetensors file or a PEFT directory, optionally with
@WEIGHT (default 1); repeat it to merge several, in order.

Examples:
  go run ./tools/quantize -model mobilenet_v2 -o models/mobilenet_v2.veil
  go run ./tools/quantize -model inception_v3 -calib ~/photos -o models/inception_v3.veil
  go run ./tools/quantize -model mobilenet_v2 -lora style.safetensors@0.7 -o styled.veil -json > report.json

Flags:
`

type loraFlags []string

func (l *loraFlags) String() string     { return strings.Join(*l, ",") }
func (l *loraFlags) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("quantize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		model   = fs.String("model", "", "model `NAME` or TF.js directory (required)")
		calib   = fs.String("calib", "", "`DIR` of calibration images (default: the built-in generated set)")
		out     = fs.String("o", "", "output `FILE` (.veil, required)")
		method  = fs.String("method", quantize.DefaultMethod.String(), "activation calibration `METHOD`: minmax, percentile or mse")
		round   = fs.String("rounding", "gptq", "weight `ROUNDING`: gptq (error-compensating, see pkg/quantize) or nearest")
		equal   = fs.String("equalize", "auto", "cross-layer equalization `MODE`: on, off, or auto (quantize both ways, keep the one closer to float on the calibration images)")
		bits    = fs.String("act-bits", strconv.Itoa(quantize.DefaultActBits), "activation `BITS`: 12, 8, or mixed (int8 weights either way; 12 keeps nsfwjs's answers much closer, 8 is faster; mixed gives 8 bits to ReLU outputs and 12 to the rest, see pkg/quantize)")
		wrange  = fs.Float64("act-range", quantize.DefaultWideRange, "with -act-bits 12, widen the calibrated activation ranges by `FACTOR` (≥ 1)")
		nimg    = fs.Int("n", calibset.DefaultCount, "number of built-in calibration images, or the maximum taken from -calib")
		asJSON  = fs.Bool("json", false, "print the report as JSON")
		raw     = fs.Bool("raw", false, "store tensors uncompressed (larger file, plain safetensors tensors)")
		quiet   = fs.Bool("q", false, "no progress on stderr")
		adapter loraFlags
	)
	fs.Var(&adapter, "lora", "LoRA adapter `PATH[@WEIGHT]` to merge first (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *model == "" || *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "quantize: -model and -o are required and no positional arguments are accepted (see -h)")
		return 2
	}
	m, err := quantize.ParseMethod(*method)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *round != "gptq" && *round != "nearest" {
		fmt.Fprintf(stderr, "quantize: unknown -rounding %q (want gptq or nearest)\n", *round)
		return 2
	}
	if *equal != "auto" && *equal != "on" && *equal != "off" {
		fmt.Fprintf(stderr, "quantize: unknown -equalize %q (want auto, on or off)\n", *equal)
		return 2
	}
	if !(*wrange >= 1 && *wrange <= 64) {
		fmt.Fprintf(stderr, "quantize: -act-range %g: want a factor in [1, 64]\n", *wrange)
		return 2
	}
	if *bits != "8" && *bits != "12" && *bits != "mixed" {
		fmt.Fprintf(stderr, "quantize: -act-bits %q: want 8, 12 or mixed\n", *bits)
		return 2
	}
	if err := quantizeModel(*model, adapter, *calib, *out, m, *round == "nearest", *equal, *bits, *wrange, *nimg, *asJSON, *raw, *quiet, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "quantize:", err)
		return 1
	}
	return 0
}

func quantizeModel(model string, adapters []string, calibDir, out string, method quantize.Method, nearest bool, equalize string, actBits string, wideRange float64, nimg int, asJSON, raw, quiet bool, stdout, stderr io.Writer) error {
	rounding := "GPTQ"
	if nearest {
		rounding = "nearest-rounded"
	}
	start := time.Now()
	progress := func(format string, args ...any) {
		if !quiet {
			fmt.Fprintf(stderr, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
		}
	}
	dir, name := model, filepath.Base(filepath.Clean(model))
	if !strings.ContainsAny(model, `/\`) {
		dir = filepath.Join("models", "tfjs", model)
	}
	progress("loading %s", dir)
	tm, err := tfjs.Load(dir)
	if err != nil {
		return err
	}
	net, err := infer.Build(tm, name)
	if err != nil {
		return err
	}
	srcHash, err := hashDir(dir)
	if err != nil {
		return err
	}
	meta := &veilfile.Meta{Source: dir, SourceSHA256: srcHash}
	if len(adapters) > 0 {
		if meta.Adapters, err = mergeAdapters(net, adapters, progress); err != nil {
			return err
		}
	}
	S := net.InputSize
	var inputs [][]float32
	var calibDesc string
	if calibDir == "" {
		for _, im := range calibset.Images(nimg) {
			x := make([]float32, S*S*3)
			infer.Preprocess(x, im.Pix, im.W, im.H, S)
			inputs = append(inputs, x)
		}
		calibDesc = fmt.Sprintf("%s activations, %s weights on %d built-in generated images (pkg/calibset)", method, rounding, len(inputs))
	} else {
		if inputs, err = loadImages(calibDir, nimg, S, progress); err != nil {
			return err
		}
		calibDesc = fmt.Sprintf("%s activations, %s weights on %d images from %s", method, rounding, len(inputs), calibDir)
	}
	meta.Calibration = calibDesc
	progress("quantizing %s (%d ops) with %s", name, len(net.Ops), calibDesc)
	last := ""
	opts := quantize.Options{Method: method, Nearest: nearest, ActBits: 12, Mixed: actBits == "mixed", WideRange: wideRange, Progress: func(stage string, done, total int) {
		if s := fmt.Sprintf("%s %d/%d", stage, done, total); s != last && !quiet {
			last = s
			progress("%s", s)
		}
	}}
	if actBits == "8" {
		opts.ActBits = 8
	}
	// Equalization helps some models and hurts others (see
	// pkg/quantize/equalize.go); auto measures both on the calibration
	// images, never on test images.
	var q *infer.QNet
	var rep *quantize.Report
	for _, eq := range map[string][]bool{"on": {true}, "off": {false}, "auto": {false, true}}[equalize] {
		opts.Equalize = eq
		qi, ri, err := quantize.Quantize(net, inputs, opts)
		if err != nil {
			return err
		}
		progress("equalization %v: mean |Δp| %.5f vs float on the calibration images", eq, ri.MeanAbsDiff)
		if rep == nil || ri.MeanAbsDiff < rep.MeanAbsDiff {
			q, rep = qi, ri
		}
	}
	meta.Calibration += fmt.Sprintf(", equalization %s, %s-bit activations", map[bool]string{true: "on", false: "off"}[rep.Equalized], map[string]string{"8": "8", "12": "12", "mixed": "8/12"}[actBits])
	data, err := veilfile.Encode(q, meta, veilfile.Options{Raw: raw})
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return err
	}
	progress("wrote %s (%d bytes)", out, len(data))
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*quantize.Report
			File      string `json:"file"`
			FileBytes int    `json:"file_bytes"`
		}{rep, out, len(data)})
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "file %s: %d bytes\n", out, len(data))
	return err
}

// mergeAdapters reads each PATH[@WEIGHT] and merges them into net's float weights.
func mergeAdapters(net *infer.Net, specs []string, progress func(string, ...any)) ([]veilfile.Adapter, error) {
	var ws []lora.Weighted
	var recs []veilfile.Adapter
	for _, s := range specs {
		path, weight := s, 1.0
		if i := strings.LastIndex(s, "@"); i >= 0 {
			w, err := strconv.ParseFloat(s[i+1:], 64)
			if err != nil {
				return nil, fmt.Errorf("-lora %q: weight %q is not a number", s, s[i+1:])
			}
			path, weight = s[:i], w
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("-lora: %w", err)
		}
		var a *lora.Adapter
		var h string
		if st.IsDir() {
			a, err = lora.ReadPEFT(path)
			if err == nil {
				h, err = hashDir(path)
			}
		} else {
			a, err = lora.ReadKohya(path)
			if err == nil {
				h, err = hashFiles([]string{path})
			}
		}
		if err != nil {
			return nil, err
		}
		progress("adapter %s: %d layers, weight %g", path, len(a.Layers), weight)
		ws = append(ws, lora.Weighted{Adapter: a, Weight: weight})
		recs = append(recs, veilfile.Adapter{Path: path, SHA256: h, Weight: weight})
	}
	// Keyed by op name and, where unique, the short layer name ("dense",
	// "Conv_1"), the same names tools/lora train writes.
	dst := train.NetKernels(net)
	if err := lora.Merge(dst, ws); err != nil {
		return nil, err
	}
	return recs, nil
}

// loadImages decodes up to n images of dir (sorted by name) into model inputs.
func loadImages(dir string, n, s int, progress func(string, ...any)) ([][]float32, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var inputs [][]float32
	for _, e := range ents {
		if e.IsDir() || (n > 0 && len(inputs) >= n) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		img, err := decode.Decode(data, decode.DefaultLimits)
		if err != nil {
			progress("skipping %s: %v", path, err)
			continue
		}
		x := make([]float32, s*s*3)
		infer.Preprocess(x, img.Pix, img.W, img.H, s)
		inputs = append(inputs, x)
	}
	if len(inputs) == 0 {
		return nil, fmt.Errorf("-calib %s: no decodable images", dir)
	}
	return inputs, nil
}

// hashDir hashes the regular files of dir, in name order.
func hashDir(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var paths []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(paths)
	return hashFiles(paths)
}

// hashFiles is SHA-256 over (base name, NUL, contents) of each file.
func hashFiles(paths []string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		io.WriteString(h, filepath.Base(p)+"\x00")
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
