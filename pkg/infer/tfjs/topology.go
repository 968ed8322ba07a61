package tfjs

import (
	"encoding/json"
	"fmt"
)

type kerasModelConfig struct {
	ClassName string `json:"class_name"`
	Config    struct {
		Name         string            `json:"name"`
		Layers       []json.RawMessage `json:"layers"`
		InputLayers  [][]any           `json:"input_layers"`
		OutputLayers [][]any           `json:"output_layers"`
	} `json:"config"`
}

type kerasLayer struct {
	Name         string          `json:"name"`
	ClassName    string          `json:"class_name"`
	Config       json.RawMessage `json:"config"`
	InboundNodes json.RawMessage `json:"inbound_nodes"`
}

func parseLayers(m *Model, cfg json.RawMessage) error {
	var mc kerasModelConfig
	if err := json.Unmarshal(cfg, &mc); err != nil {
		return fmt.Errorf("model.json: Keras model config: %w", err)
	}
	if mc.ClassName != "Model" && mc.ClassName != "Functional" {
		return fmt.Errorf("model.json: Keras model class %q is not supported (want Model or Functional)", mc.ClassName)
	}
	for i, raw := range mc.Config.Layers {
		var kl kerasLayer
		if err := json.Unmarshal(raw, &kl); err != nil {
			return fmt.Errorf("model.json: layer %d: %w", i, err)
		}
		if kl.Name == "" {
			var named struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(kl.Config, &named)
			kl.Name = named.Name
		}
		if kl.Name == "" {
			return fmt.Errorf("model.json: layer %d (%s) has no name", i, kl.ClassName)
		}
		inbound, err := parseInbound(kl.InboundNodes)
		if err != nil {
			return fmt.Errorf("model.json: layer %q: inbound_nodes: %w", kl.Name, err)
		}
		m.Layers = append(m.Layers, Layer{Name: kl.Name, ClassName: kl.ClassName, Config: kl.Config, Inbound: inbound})
	}
	var err error
	if m.Inputs, err = layerRefs(mc.Config.InputLayers); err != nil {
		return fmt.Errorf("model.json: input_layers: %w", err)
	}
	if m.Outputs, err = layerRefs(mc.Config.OutputLayers); err != nil {
		return fmt.Errorf("model.json: output_layers: %w", err)
	}
	return nil
}

// parseInbound reads Keras 2 inbound_nodes: [[["name", nodeIndex, tensorIndex, {kwargs}], ...]].
// Only single-node layers are used by the models we read; shared layers are refused.
func parseInbound(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var nodes [][][]any
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, nil
	}
	if len(nodes) > 1 {
		return nil, fmt.Errorf("layer is called %d times (shared layers are not supported)", len(nodes))
	}
	var names []string
	for _, ref := range nodes[0] {
		if len(ref) < 1 {
			return nil, fmt.Errorf("empty inbound reference")
		}
		name, ok := ref[0].(string)
		if !ok {
			return nil, fmt.Errorf("inbound reference %v has no layer name", ref)
		}
		if len(ref) >= 3 {
			if ti, ok := ref[2].(float64); ok && ti != 0 {
				return nil, fmt.Errorf("inbound %q uses output %v (multi-output layers are not supported)", name, ti)
			}
		}
		names = append(names, name)
	}
	return names, nil
}

func layerRefs(refs [][]any) ([]string, error) {
	var names []string
	for _, r := range refs {
		if len(r) < 1 {
			return nil, fmt.Errorf("empty layer reference")
		}
		s, ok := r[0].(string)
		if !ok {
			return nil, fmt.Errorf("layer reference %v has no name", r)
		}
		names = append(names, s)
	}
	return names, nil
}

func parseGraph(m *Model, topo json.RawMessage) error {
	var g struct {
		Node []struct {
			Name  string                     `json:"name"`
			Op    string                     `json:"op"`
			Input []string                   `json:"input"`
			Attr  map[string]json.RawMessage `json:"attr"`
		} `json:"node"`
	}
	if err := json.Unmarshal(topo, &g); err != nil {
		return fmt.Errorf("model.json: graph: %w", err)
	}
	for i, n := range g.Node {
		if n.Name == "" || n.Op == "" {
			return fmt.Errorf("model.json: graph node %d has no name or op", i)
		}
		m.Nodes = append(m.Nodes, Node{Name: n.Name, Op: n.Op, Inputs: n.Input, Attr: n.Attr})
	}
	return nil
}
