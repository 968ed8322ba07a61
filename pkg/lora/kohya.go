package lora

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/veil-ml/veil/pkg/safetensors"
)

// kohyaPrefix starts every kohya module name; readers strip it.
const kohyaPrefix = "lora_"

// ReadKohya reads a kohya-style LoRA safetensors file. The adapter is named after the file.
func ReadKohya(path string) (*Adapter, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	a, err := ParseKohya(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	a.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return a, nil
}

// ParseKohya decodes a kohya-style LoRA file: per module "<m>.lora_down.weight" [r, in(, kh, kw)],
// "<m>.lora_up.weight" [out, r(, 1, 1)] and an optional scalar "<m>.alpha" (rank if absent).
// Layer names are <m> without its "lora_" prefix.
func ParseKohya(data []byte) (*Adapter, error) {
	f, err := safetensors.Parse(data, safetensors.Limits{})
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	mods := make(map[string]*factorPair)
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if err := rejectOtherDecompositions(t.Name); err != nil {
			return nil, err
		}
		var slot **safetensors.Tensor
		for _, s := range []struct {
			suffix string
			slot   func(*factorPair) **safetensors.Tensor
		}{
			{".lora_down.weight", func(p *factorPair) **safetensors.Tensor { return &p.a }},
			{".lora_up.weight", func(p *factorPair) **safetensors.Tensor { return &p.b }},
			{".alpha", func(p *factorPair) **safetensors.Tensor { return &p.alpha }},
		} {
			if m, ok := strings.CutSuffix(t.Name, s.suffix); ok && m != "" {
				p := mods[m]
				if p == nil {
					p = &factorPair{}
					mods[m] = p
				}
				slot = s.slot(p)
				break
			}
		}
		switch {
		case slot != nil:
			*slot = t
		case strings.HasSuffix(t.Name, ".lora_mid.weight"):
			return nil, fmt.Errorf("lora: tensor %q: Tucker-decomposed conv LoRA (lora_mid) is not supported", t.Name)
		case strings.HasSuffix(t.Name, ".dora_scale"):
			return nil, fmt.Errorf("lora: tensor %q: kohya/LyCORIS DoRA (dora_scale) is not supported; use PEFT DoRA", t.Name)
		default:
			return nil, fmt.Errorf("lora: tensor %q is not a lora_down, lora_up or alpha tensor", t.Name)
		}
	}
	a := &Adapter{Metadata: copyMetadata(f.Metadata)}
	for mod, p := range mods {
		layer := strings.TrimPrefix(mod, kohyaPrefix)
		if layer == "" {
			layer = mod
		}
		if p.a == nil && p.b == nil {
			return nil, fmt.Errorf("lora: tensor %q: alpha without lora_down and lora_up", p.alpha.Name)
		}
		l, err := layerFromFactors(layer, p.a, p.b)
		if err != nil {
			return nil, err
		}
		l.Alpha = float64(l.Rank)
		if p.alpha != nil {
			if l.Alpha, err = scalarValue(p.alpha); err != nil {
				return nil, err
			}
		}
		if err := l.Validate(); err != nil {
			return nil, err
		}
		a.Layers = append(a.Layers, l)
	}
	sortLayers(a.Layers)
	for i := 1; i < len(a.Layers); i++ {
		if a.Layers[i].Layer == a.Layers[i-1].Layer {
			return nil, fmt.Errorf("lora: modules %q and %q both name layer %q",
				kohyaPrefix+a.Layers[i].Layer, a.Layers[i].Layer, a.Layers[i].Layer)
		}
	}
	return a, nil
}

// WriteKohya writes a as a kohya-style LoRA safetensors file.
func WriteKohya(path string, a *Adapter) error {
	b, err := EncodeKohya(a)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	return nil
}

// EncodeKohya returns a as a kohya-style file: module "lora_<Layer with . and / as _>",
// F32 lora_down/lora_up and a scalar F32 alpha (rsLoRA layers get alpha·√r, the same scale).
// DoRA layers cannot be written in this format.
func EncodeKohya(a *Adapter) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	f := &safetensors.File{Metadata: copyMetadata(a.Metadata)}
	owner := make(map[string]string)
	for i := range a.Layers {
		l := &a.Layers[i]
		if l.Magnitude != nil {
			return nil, a.wrap(fmt.Errorf("lora: layer %q: the kohya format cannot hold DoRA magnitudes", l.Layer))
		}
		mod := kohyaPrefix + underscored(l.Layer)
		if prev, dup := owner[mod]; dup {
			return nil, a.wrap(fmt.Errorf("lora: layers %q and %q both become kohya module %q", prev, l.Layer, mod))
		}
		owner[mod] = l.Layer
		down, up := factorTensors(l, mod+".lora_down.weight", mod+".lora_up.weight")
		alpha := l.Alpha
		if l.RSLoRA {
			alpha = alphaFor(l.Scale(), l.Rank, false)
		}
		f.Tensors = append(f.Tensors, down, up,
			safetensors.NewFloatTensor(mod+".alpha", safetensors.F32, nil, []float32{float32(alpha)}))
	}
	b, err := safetensors.Encode(f)
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	return b, nil
}
