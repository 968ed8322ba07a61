package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"strings"
)

// Limits for untrusted model files.
const (
	maxModelJSON   = 64 << 20  // bytes of model.json
	maxWeightBytes = 1 << 30   // total bytes of all shards
	maxTensorElems = 256 << 20 // elements in one tensor
	maxRank        = 8         // dimensions of one tensor
)

// Model is a parsed TF.js model.
type Model struct {
	Format      string // "layers-model" or "graph-model"
	GeneratedBy string
	ConvertedBy string

	Layers  []Layer // layers-model only, in file order
	Inputs  []string
	Outputs []string

	Nodes []Node // graph-model only, in file order

	// Weights are all weights of the manifest, dequantized, by name.
	Weights map[string]*Tensor
}

// Tensor is a dense float32 tensor in row-major (C) order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Layer is one Keras layer of a layers-model.
type Layer struct {
	Name      string
	ClassName string
	Config    json.RawMessage
	// Inbound names the layers whose outputs feed this one, in order.
	Inbound []string
}

// Node is one node of a TensorFlow graph-model.
type Node struct {
	Name   string
	Op     string
	Inputs []string
	Attr   map[string]json.RawMessage
}

type weightSpec struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	DType        string `json:"dtype"`
	Quantization *struct {
		DType string   `json:"dtype"`
		Min   *float64 `json:"min"`
		Scale *float64 `json:"scale"`
	} `json:"quantization"`
}

type manifestGroup struct {
	Paths   []string     `json:"paths"`
	Weights []weightSpec `json:"weights"`
}

type modelJSON struct {
	Format          string          `json:"format"`
	GeneratedBy     string          `json:"generatedBy"`
	ConvertedBy     string          `json:"convertedBy"`
	ModelTopology   json.RawMessage `json:"modelTopology"`
	WeightsManifest []manifestGroup `json:"weightsManifest"`
}

// Load reads dir/model.json and the shards it names.
func Load(dir string) (*Model, error) {
	return LoadFS(os.DirFS(dir), ".", dir)
}

// LoadFS reads root/model.json and its shards from fsys. Label names the
// model in error messages.
func LoadFS(fsys fs.FS, root, label string) (*Model, error) {
	jsonPath := path.Join(root, "model.json")
	st, err := fs.Stat(fsys, jsonPath)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", label, err)
	}
	if st.Size() > maxModelJSON {
		return nil, fmt.Errorf("tfjs: %s/model.json: %d bytes, limit %d", label, st.Size(), maxModelJSON)
	}
	data, err := fs.ReadFile(fsys, jsonPath)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", label, err)
	}
	readShard := func(p string) ([]byte, error) {
		if !fs.ValidPath(p) || strings.Contains(p, "..") {
			return nil, fmt.Errorf("shard path %q is not a plain relative path", p)
		}
		full := path.Join(root, p)
		st, err := fs.Stat(fsys, full)
		if err != nil {
			return nil, err
		}
		if st.Size() > maxWeightBytes {
			return nil, fmt.Errorf("shard %q: %d bytes, limit %d", p, st.Size(), maxWeightBytes)
		}
		return fs.ReadFile(fsys, full)
	}
	m, err := Parse(data, readShard)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", label, err)
	}
	return m, nil
}

// Parse parses model.json bytes; readShard returns the bytes of one shard
// path as listed in the weights manifest.
func Parse(data []byte, readShard func(path string) ([]byte, error)) (*Model, error) {
	var mj modelJSON
	if err := json.Unmarshal(data, &mj); err != nil {
		return nil, fmt.Errorf("model.json: %w", err)
	}
	if len(mj.ModelTopology) == 0 || string(mj.ModelTopology) == "null" {
		return nil, fmt.Errorf("model.json: no modelTopology")
	}
	m := &Model{Format: mj.Format, GeneratedBy: mj.GeneratedBy, ConvertedBy: mj.ConvertedBy}

	var probe struct {
		Node        json.RawMessage `json:"node"`
		ModelConfig json.RawMessage `json:"model_config"`
		ClassName   string          `json:"class_name"`
	}
	if err := json.Unmarshal(mj.ModelTopology, &probe); err != nil {
		return nil, fmt.Errorf("model.json: modelTopology: %w", err)
	}
	switch {
	case len(probe.Node) > 0:
		if m.Format == "" {
			m.Format = "graph-model"
		}
		if err := parseGraph(m, mj.ModelTopology); err != nil {
			return nil, err
		}
	case len(probe.ModelConfig) > 0 || probe.ClassName != "":
		if m.Format == "" {
			m.Format = "layers-model"
		}
		cfg := mj.ModelTopology
		if len(probe.ModelConfig) > 0 {
			cfg = probe.ModelConfig
		}
		if err := parseLayers(m, cfg); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("model.json: modelTopology is neither a Keras model config nor a graph")
	}

	if err := readWeights(m, mj.WeightsManifest, readShard); err != nil {
		return nil, err
	}
	return m, nil
}

func readWeights(m *Model, groups []manifestGroup, readShard func(string) ([]byte, error)) error {
	m.Weights = make(map[string]*Tensor)
	for gi, g := range groups {
		// Shards of a group are one buffer cut into files.
		var buf []byte
		for _, p := range g.Paths {
			b, err := readShard(p)
			if err != nil {
				return fmt.Errorf("weights group %d: %w", gi, err)
			}
			if len(buf)+len(b) > maxWeightBytes {
				return fmt.Errorf("weights group %d: more than %d bytes", gi, maxWeightBytes)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, ws := range g.Weights {
			t, n, err := decodeWeight(ws, buf[off:])
			if err != nil {
				return fmt.Errorf("weight %q (group %d, byte %d): %w", ws.Name, gi, off, err)
			}
			off += n
			if _, dup := m.Weights[ws.Name]; dup {
				return fmt.Errorf("weight %q listed twice", ws.Name)
			}
			m.Weights[ws.Name] = t
		}
		if off != len(buf) {
			return fmt.Errorf("weights group %d: manifest describes %d bytes, shards hold %d", gi, off, len(buf))
		}
	}
	return nil
}

// decodeWeight decodes one tensor from the front of b and returns the number
// of bytes it used.
func decodeWeight(ws weightSpec, b []byte) (*Tensor, int, error) {
	if len(ws.Shape) > maxRank {
		return nil, 0, fmt.Errorf("rank %d, limit %d", len(ws.Shape), maxRank)
	}
	n := 1
	for _, d := range ws.Shape {
		if d < 0 || (d > 0 && n > maxTensorElems/d) {
			return nil, 0, fmt.Errorf("shape %v: invalid or more than %d elements", ws.Shape, maxTensorElems)
		}
		n *= d
	}
	dtype := ws.DType
	var qmin, qscale float64
	if q := ws.Quantization; q != nil {
		dtype = q.DType
		if dtype == "uint8" || dtype == "uint16" {
			if q.Min == nil || q.Scale == nil {
				return nil, 0, fmt.Errorf("%s quantization without min and scale", dtype)
			}
			qmin, qscale = *q.Min, *q.Scale
		}
	} else if ws.DType != "float32" {
		return nil, 0, fmt.Errorf("dtype %q is not supported (want float32)", ws.DType)
	}
	size := map[string]int{"float32": 4, "uint8": 1, "uint16": 2, "float16": 2}[dtype]
	if size == 0 {
		return nil, 0, fmt.Errorf("quantization dtype %q is not supported", dtype)
	}
	if len(b) < n*size {
		return nil, 0, fmt.Errorf("shape %v %s needs %d bytes, only %d left in the shards", ws.Shape, dtype, n*size, len(b))
	}
	out := make([]float32, n)
	switch dtype {
	case "float32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "uint8":
		for i := range out {
			out[i] = float32(float64(b[i])*qscale + qmin)
		}
	case "uint16":
		for i := range out {
			out[i] = float32(float64(binary.LittleEndian.Uint16(b[2*i:]))*qscale + qmin)
		}
	case "float16":
		for i := range out {
			out[i] = Float16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	}
	return &Tensor{Shape: append([]int(nil), ws.Shape...), Data: out}, n * size, nil
}

// Float16ToFloat32 converts an IEEE 754 half-precision value.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 / 16384
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
