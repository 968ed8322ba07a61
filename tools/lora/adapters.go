package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/veil-ml/veil/pkg/lora"
)

const inspectHelp = `usage: lora inspect [-json] [-sv N] ADAPTER...

Prints each adapter's layers: rank, shape, alpha, scale, and the largest
singular values of its delta scale·B·A with the Frobenius norm.

Examples:
  go run ./tools/lora inspect out/fractal
  go run ./tools/lora inspect -json -sv 8 a.safetensors
`

type layerInfo struct {
	Layer    string    `json:"layer"`
	Rank     int       `json:"rank"`
	In       int       `json:"in"`
	Out      int       `json:"out"`
	Kernel   [2]int    `json:"kernel"`
	Conv     bool      `json:"conv"`
	Alpha    float64   `json:"alpha"`
	Scale    float64   `json:"scale"`
	RSLoRA   bool      `json:"rslora"`
	DoRA     bool      `json:"dora"`
	Norm     float64   `json:"delta_norm"` // ‖scale·B·A‖_F
	Singular []float64 `json:"singular_values"`
}

type adapterInfo struct {
	Path     string            `json:"path"`
	Name     string            `json:"name"`
	Layers   []layerInfo       `json:"layers"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("inspect", inspectHelp, stderr)
	asJSON := fs.Bool("json", false, "one JSON object per adapter on stdout")
	nsv := fs.Int("sv", 4, "singular values to show per layer")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() == 0 {
		return fail(stderr, "inspect", usageErr("no adapters given"))
	}
	status := 0
	for _, path := range fs.Args() {
		a, err := readAdapter(path)
		if err != nil {
			status = fail(stderr, "inspect", err)
			continue
		}
		info := adapterInfo{Path: path, Name: a.Name, Metadata: a.Metadata}
		for i := range a.Layers {
			l := &a.Layers[i]
			li := layerInfo{Layer: l.Layer, Rank: l.Rank, In: l.In, Out: l.Out, Kernel: [2]int{l.KH, l.KW}, Conv: l.Conv,
				Alpha: l.Alpha, Scale: l.Scale(), RSLoRA: l.RSLoRA, DoRA: l.Magnitude != nil}
			sv, err := l.SingularValues()
			if err != nil {
				return fail(stderr, "inspect", err)
			}
			for _, s := range sv {
				li.Norm += s * s
			}
			li.Norm = math.Sqrt(li.Norm)
			li.Singular = sv[:min(len(sv), max(*nsv, 0))]
			info.Layers = append(info.Layers, li)
		}
		if *asJSON {
			if err := json.NewEncoder(stdout).Encode(info); err != nil {
				return fail(stderr, "inspect", err)
			}
			continue
		}
		fmt.Fprintf(stdout, "%s (%s): %d layers\n", path, a.Name, len(a.Layers))
		for _, l := range info.Layers {
			kind := "dense"
			if l.Conv {
				kind = fmt.Sprintf("conv %dx%d", l.Kernel[0], l.Kernel[1])
			}
			extra := ""
			if l.RSLoRA {
				extra += " rslora"
			}
			if l.DoRA {
				extra += " dora"
			}
			fmt.Fprintf(stdout, "  %-24s %-9s r=%-3d %5d→%-5d alpha=%-6g scale=%-8.4g ‖Δ‖=%-9.4g σ=%s%s\n",
				l.Layer, kind, l.Rank, l.In, l.Out, l.Alpha, l.Scale, l.Norm, fmtFloats(l.Singular), extra)
		}
	}
	return status
}

func fmtFloats(v []float64) string {
	s := "["
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.4g", x)
	}
	return s + "]"
}

const resizeHelp = `usage: lora resize -out OUT [-method fixed|sv_ratio|sv_fro|sv_cumulative] [-rank N] [-param P] [-json] ADAPTER

Replaces each layer's delta by its best rank-k approximation (SVD), k chosen
per layer: fixed (k = -rank), sv_ratio (σ_i > σ_max/P, P ≥ 1), sv_fro (keep
a fraction P of Σσ²), sv_cumulative (keep a fraction P of Σσ). For the
dynamic methods a positive -rank caps k. Ranks never grow.

Examples:
  go run ./tools/lora resize -rank 2 -out small in_dir
  go run ./tools/lora resize -method sv_fro -param 0.99 -out small.safetensors in_dir
`

func runResize(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("resize", resizeHelp, stderr)
	out := fs.String("out", "", "output adapter (required)")
	method := fs.String("method", "fixed", "rank rule: fixed, sv_ratio, sv_fro or sv_cumulative")
	rank := fs.Int("rank", 0, "rank (fixed) or rank cap (dynamic methods)")
	param := fs.Float64("param", 0, "ratio (sv_ratio) or kept fraction (sv_fro, sv_cumulative)")
	asJSON := fs.Bool("json", false, "per-layer report as JSON on stdout")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 || *out == "" {
		return fail(stderr, "resize", usageErr("want -out OUT and exactly one input adapter"))
	}
	a, err := readAdapter(fs.Arg(0))
	if err != nil {
		return fail(stderr, "resize", err)
	}
	r, reps, err := lora.Resize(a, lora.RankRule{Method: lora.RankMethod(*method), Rank: *rank, Param: *param})
	if err != nil {
		return fail(stderr, "resize", err)
	}
	if err := writeAdapter(*out, r); err != nil {
		return fail(stderr, "resize", err)
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(map[string]any{"out": *out, "layers": reps}); err != nil {
			return fail(stderr, "resize", err)
		}
		return 0
	}
	for _, l := range reps {
		fmt.Fprintf(stdout, "%-24s rank %d → %d  energy kept %.4f  relative error %.4g\n", l.Layer, l.OldRank, l.NewRank, l.EnergyKept, l.RelError)
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return 0
}

const pruneHelp = `usage: lora prune -out OUT -density D [-method magnitude|dare] [-seed S] ADAPTER

Keeps a fraction D of each layer's factor entries: the largest by magnitude,
or (dare) a random fraction D rescaled by 1/D so the expected delta is
unchanged. To prune full deltas instead, use combine -method magnitude_prune.

Examples:
  go run ./tools/lora prune -density 0.5 -out pruned in_dir
  go run ./tools/lora prune -method dare -density 0.3 -seed 7 -out pruned in_dir
`

func runPrune(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("prune", pruneHelp, stderr)
	out := fs.String("out", "", "output adapter (required)")
	method := fs.String("method", "magnitude", "magnitude or dare")
	density := fs.Float64("density", 0, "kept fraction in (0, 1] (required)")
	seed := fs.Uint64("seed", 0, "random seed for dare")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 || *out == "" || *density == 0 {
		return fail(stderr, "prune", usageErr("want -out OUT, -density D and exactly one input adapter"))
	}
	if *method != "magnitude" && *method != "dare" {
		return fail(stderr, "prune", usageErr("unknown method %q (want magnitude or dare)", *method))
	}
	a, err := readAdapter(fs.Arg(0))
	if err != nil {
		return fail(stderr, "prune", err)
	}
	var p *lora.Adapter
	switch *method {
	case "magnitude":
		p, err = lora.PruneMagnitude(a, *density)
	case "dare":
		p, err = lora.PruneDARE(a, *density, *seed)
	}
	if err != nil {
		return fail(stderr, "prune", err)
	}
	if err := writeAdapter(*out, p); err != nil {
		return fail(stderr, "prune", err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return 0
}

const combineHelp = `usage: lora combine -out OUT [-method M] [-rank N] [-density D] [-seed S] [-majority-sign total|frequency] ADAPTER[:WEIGHT]...

Combines adapters into one (after PEFT's add_weighted_adapter). Methods:
linear (needs equal ranks), cat (exact sum, ranks add up), svd (sum truncated
to -rank), ties, dare_linear, dare_ties, magnitude_prune (need -density).
WEIGHT defaults to 1.

Examples:
  go run ./tools/lora combine -method cat -out both wood:1 flowers:0.5
  go run ./tools/lora combine -method ties -density 0.5 -rank 8 -out merged a b c
`

func runCombine(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("combine", combineHelp, stderr)
	out := fs.String("out", "", "output adapter (required)")
	method := fs.String("method", "cat", "linear, cat, svd, ties, dare_linear, dare_ties or magnitude_prune")
	rank := fs.Int("rank", 0, "target rank for the SVD-based methods (0: largest input rank)")
	density := fs.Float64("density", 0, "kept fraction for ties, dare_* and magnitude_prune")
	seed := fs.Uint64("seed", 0, "random seed for the dare methods")
	sign := fs.String("majority-sign", "total", "ties sign election: total or frequency")
	name := fs.String("name", "combined", "name of the result")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() == 0 || *out == "" {
		return fail(stderr, "combine", usageErr("want -out OUT and at least one input adapter"))
	}
	var ws []lora.Weighted
	for _, arg := range fs.Args() {
		path, w, err := parseWeighted(arg)
		if err != nil {
			return fail(stderr, "combine", usageErr("%v", err))
		}
		a, err := readAdapter(path)
		if err != nil {
			return fail(stderr, "combine", err)
		}
		ws = append(ws, lora.Weighted{Adapter: a, Weight: w})
	}
	c, err := lora.Combine(ws, lora.CombineMethod(*method), lora.CombineOptions{Name: *name, Rank: *rank, Density: *density, Seed: *seed, MajoritySign: *sign})
	if err != nil {
		return fail(stderr, "combine", err)
	}
	if err := writeAdapter(*out, c); err != nil {
		return fail(stderr, "combine", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d layers)\n", *out, len(c.Layers))
	return 0
}
