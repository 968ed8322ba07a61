package lora

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/veil-ml/veil/pkg/safetensors"
)

// File names of a PEFT adapter directory.
const (
	PEFTConfigFile  = "adapter_config.json"
	PEFTWeightsFile = "adapter_model.safetensors"
)

// peftPrefix is the module prefix PEFT gives every tensor; readers strip it.
const peftPrefix = "base_model.model."

// PEFT's defaults for a LoraConfig.
const (
	peftDefaultR     = 8
	peftDefaultAlpha = 8
)

type peftConfig struct {
	PeftType      string          `json:"peft_type,omitempty"`
	R             *int            `json:"r"`
	LoraAlpha     *float64        `json:"lora_alpha"`
	TargetModules json.RawMessage `json:"target_modules,omitempty"`
	UseRSLoRA     bool            `json:"use_rslora"`
	UseDoRA       bool            `json:"use_dora"`
	RankPattern   json.RawMessage `json:"rank_pattern,omitempty"`
	AlphaPattern  json.RawMessage `json:"alpha_pattern,omitempty"`
	FanInFanOut   bool            `json:"fan_in_fan_out"`
}

// pattern is one rank_pattern/alpha_pattern entry, in file order (the first match wins).
type pattern struct {
	key   string
	re    *regexp.Regexp
	value float64
}

// ReadPEFT reads a PEFT adapter directory (adapter_config.json + adapter_model.safetensors).
// The adapter is named after the directory.
func ReadPEFT(dir string) (*Adapter, error) {
	cfg, err := os.ReadFile(filepath.Join(dir, PEFTConfigFile))
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	w, err := os.ReadFile(filepath.Join(dir, PEFTWeightsFile))
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	a, err := ParsePEFT(cfg, w)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	a.Name = filepath.Base(filepath.Clean(dir))
	return a, nil
}

// ParsePEFT decodes a PEFT adapter from the contents of adapter_config.json and
// adapter_model.safetensors. The rank of each layer comes from its lora_A shape; its alpha is
// the first alpha_pattern entry matching the module, else lora_alpha (default 8).
// Patterns are matched as PEFT does: regexp "(.*\.)?(<key>)$" against the module path.
func ParsePEFT(config, weights []byte) (*Adapter, error) {
	var cfg peftConfig
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, fmt.Errorf("lora: %s: %w", PEFTConfigFile, err)
	}
	switch strings.ToUpper(cfg.PeftType) {
	case "", "LORA":
	case "LOHA", "LOKR":
		return nil, errors.New("lora: LoHa/LoKr adapters are not supported (peft_type " + cfg.PeftType + ")")
	default:
		return nil, fmt.Errorf("lora: %s: peft_type %q is not supported, only LORA", PEFTConfigFile, cfg.PeftType)
	}
	alpha := float64(peftDefaultAlpha)
	if cfg.LoraAlpha != nil {
		alpha = *cfg.LoraAlpha
	}
	alphaPat, err := parsePatterns("alpha_pattern", cfg.AlphaPattern)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.Parse(weights, safetensors.Limits{})
	if err != nil {
		return nil, fmt.Errorf("lora: %s: %w", PEFTWeightsFile, err)
	}

	mods := make(map[string]*factorPair)
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if err := rejectOtherDecompositions(t.Name); err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(t.Name, peftPrefix)
		var mod string
		var slot **safetensors.Tensor
		get := func(m string) *factorPair {
			p := mods[m]
			if p == nil {
				p = &factorPair{}
				mods[m] = p
			}
			return p
		}
		switch {
		case strings.HasSuffix(name, ".lora_A.weight"):
			mod = strings.TrimSuffix(name, ".lora_A.weight")
			slot = &get(mod).a
		case strings.HasSuffix(name, ".lora_B.weight"):
			mod = strings.TrimSuffix(name, ".lora_B.weight")
			slot = &get(mod).b
		case strings.HasSuffix(name, ".lora_magnitude_vector"), strings.HasSuffix(name, ".lora_magnitude_vector.weight"):
			mod = name[:strings.LastIndex(name, ".lora_magnitude_vector")]
			slot = &get(mod).mag
		case strings.HasSuffix(name, ".lora_B.bias"):
			return nil, fmt.Errorf("lora: tensor %q: LoRA bias (lora_bias=True) is not supported", t.Name)
		default:
			return nil, fmt.Errorf("lora: tensor %q is not a lora_A, lora_B or lora_magnitude_vector weight", t.Name)
		}
		if mod == "" {
			return nil, fmt.Errorf("lora: tensor %q has no module name", t.Name)
		}
		*slot = t
	}

	a := &Adapter{UseRSLoRA: cfg.UseRSLoRA, FanInFanOut: cfg.FanInFanOut, Metadata: copyMetadata(f.Metadata)}
	for mod, p := range mods {
		l, err := layerFromFactors(mod, p.a, p.b)
		if err != nil {
			return nil, err
		}
		l.RSLoRA = cfg.UseRSLoRA
		l.Alpha = alpha
		if v, ok := matchPattern(alphaPat, mod); ok {
			l.Alpha = v
		}
		switch {
		case p.mag != nil && !cfg.UseDoRA:
			return nil, fmt.Errorf("lora: layer %q: lora_magnitude_vector present but use_dora is false", mod)
		case p.mag == nil && cfg.UseDoRA:
			return nil, fmt.Errorf("lora: layer %q: use_dora is true but lora_magnitude_vector is missing", mod)
		case p.mag != nil:
			if l.Magnitude, err = p.mag.Float32s(); err != nil {
				return nil, fmt.Errorf("lora: layer %q: %w", mod, err)
			}
			if len(l.Magnitude) != l.Out {
				return nil, fmt.Errorf("lora: layer %q: lora_magnitude_vector shape %v, want %d values (out)", mod, p.mag.Shape, l.Out)
			}
		}
		if err := l.Validate(); err != nil {
			return nil, err
		}
		a.Layers = append(a.Layers, l)
	}
	sortLayers(a.Layers)
	return a, nil
}

// parsePatterns decodes a {pattern: number} object keeping its order.
func parsePatterns(field string, raw json.RawMessage) ([]pattern, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("lora: %s: %s is not an object", PEFTConfigFile, field)
	}
	var ps []pattern
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("lora: %s: %s: %w", PEFTConfigFile, field, err)
		}
		key := tok.(string)
		var v float64
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("lora: %s: %s %q: %w", PEFTConfigFile, field, key, err)
		}
		p := pattern{key: key, value: v}
		// PEFT uses Python regexps; a key RE2 cannot compile is matched literally.
		p.re, _ = regexp.Compile(`^(?:.*\.)?(?:` + key + `)$`)
		ps = append(ps, p)
	}
	return ps, nil
}

func matchPattern(ps []pattern, module string) (float64, bool) {
	for _, p := range ps {
		if (p.re != nil && p.re.MatchString(module)) || p.key == module || strings.HasSuffix(module, "."+p.key) {
			return p.value, true
		}
	}
	return 0, false
}

// WritePEFT writes a as a PEFT adapter directory, creating dir if needed.
func WritePEFT(dir string, a *Adapter) error {
	cfg, w, err := EncodePEFT(a)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, PEFTConfigFile), cfg, 0o644); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, PEFTWeightsFile), w, 0o644); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	return nil
}

// EncodePEFT returns the contents of adapter_config.json and adapter_model.safetensors for a.
// r and lora_alpha are the most common rank and alpha; other layers get rank_pattern and
// alpha_pattern entries (keys are the regexp-quoted layer names). A layer whose RSLoRA
// differs from a.UseRSLoRA has its alpha converted so its scale is unchanged. target_modules
// lists the last "."-component of each layer name. Tensors are F32. All layers must be DoRA,
// or none.
func EncodePEFT(a *Adapter) (config, weights []byte, err error) {
	if err := a.Validate(); err != nil {
		return nil, nil, err
	}
	dora := len(a.Layers) > 0 && a.Layers[0].Magnitude != nil
	ranks := make([]float64, len(a.Layers))
	alphas := make([]float64, len(a.Layers))
	for i := range a.Layers {
		l := &a.Layers[i]
		if (l.Magnitude != nil) != dora {
			return nil, nil, a.wrap(fmt.Errorf("lora: layer %q: PEFT cannot hold DoRA and plain LoRA layers in one adapter", l.Layer))
		}
		ranks[i] = float64(l.Rank)
		alphas[i] = l.Alpha
		if l.RSLoRA != a.UseRSLoRA {
			alphas[i] = alphaFor(l.Scale(), l.Rank, a.UseRSLoRA)
		}
	}
	r, alpha := mostCommon(ranks, peftDefaultR), mostCommon(alphas, peftDefaultAlpha)
	rankPat, alphaPat := map[string]int{}, map[string]float64{}
	var targets []string
	f := &safetensors.File{Metadata: copyMetadata(a.Metadata)}
	if f.Metadata == nil {
		f.Metadata = map[string]string{}
	}
	f.Metadata["format"] = "pt"
	for i := range a.Layers {
		l := &a.Layers[i]
		key := regexp.QuoteMeta(l.Layer)
		if float64(l.Rank) != r {
			rankPat[key] = l.Rank
		}
		if alphas[i] != alpha {
			alphaPat[key] = alphas[i]
		}
		targets = append(targets, lastComponent(l.Layer))
		base := peftPrefix + l.Layer
		ta, tb := factorTensors(l, base+".lora_A.weight", base+".lora_B.weight")
		f.Tensors = append(f.Tensors, ta, tb)
		if dora {
			shape := []int{l.Out}
			if l.Conv {
				shape = []int{1, l.Out, 1, 1}
			}
			f.Tensors = append(f.Tensors, safetensors.NewFloatTensor(base+".lora_magnitude_vector", safetensors.F32, shape, l.Magnitude))
		}
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	if targets == nil {
		targets = []string{}
	}
	cfgJSON := map[string]any{
		"peft_type":         "LORA",
		"r":                 int(r),
		"lora_alpha":        alpha,
		"target_modules":    targets,
		"use_rslora":        a.UseRSLoRA,
		"use_dora":          dora,
		"rank_pattern":      rankPat,
		"alpha_pattern":     alphaPat,
		"fan_in_fan_out":    a.FanInFanOut,
		"lora_dropout":      0.0,
		"bias":              "none",
		"inference_mode":    true,
		"init_lora_weights": true,
	}
	if config, err = json.MarshalIndent(cfgJSON, "", "  "); err != nil {
		return nil, nil, fmt.Errorf("lora: %s: %w", PEFTConfigFile, err)
	}
	if weights, err = safetensors.Encode(f); err != nil {
		return nil, nil, fmt.Errorf("lora: %s: %w", PEFTWeightsFile, err)
	}
	return append(config, '\n'), weights, nil
}

// alphaFor returns the alpha that gives scale at the given rank, with or without rsLoRA.
func alphaFor(scale float64, rank int, rs bool) float64 {
	if rs {
		return scale * math.Sqrt(float64(rank))
	}
	return scale * float64(rank)
}

// mostCommon returns the most frequent value, the smallest on ties, def if vs is empty.
func mostCommon(vs []float64, def float64) float64 {
	if len(vs) == 0 {
		return def
	}
	count := map[float64]int{}
	for _, v := range vs {
		count[v]++
	}
	best, n := 0.0, 0
	for v, c := range count {
		if c > n || (c == n && v < best) {
			best, n = v, c
		}
	}
	return best
}

// lastComponent returns the part of a module path after its last ".".
func lastComponent(s string) string {
	return s[strings.LastIndex(s, ".")+1:]
}
