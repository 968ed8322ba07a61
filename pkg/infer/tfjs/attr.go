package tfjs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// AttrInts returns a list-of-int attribute, such as strides or ksize.
func (n *Node) AttrInts(key string) ([]int, error) {
	raw, ok := n.Attr[key]
	if !ok {
		return nil, fmt.Errorf("node %q (%s): no attribute %q", n.Name, n.Op, key)
	}
	var a struct {
		List struct {
			I []json.Number `json:"i"`
		} `json:"list"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("node %q (%s): attribute %q: %w", n.Name, n.Op, key, err)
	}
	out := make([]int, len(a.List.I))
	for i, s := range a.List.I {
		v, err := strconv.Atoi(string(s))
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): attribute %q: %w", n.Name, n.Op, key, err)
		}
		out[i] = v
	}
	return out, nil
}

// AttrString returns a string attribute (stored base64-encoded in model.json).
func (n *Node) AttrString(key string) (string, error) {
	raw, ok := n.Attr[key]
	if !ok {
		return "", fmt.Errorf("node %q (%s): no attribute %q", n.Name, n.Op, key)
	}
	var a struct {
		S string `json:"s"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return "", fmt.Errorf("node %q (%s): attribute %q: %w", n.Name, n.Op, key, err)
	}
	b, err := base64.StdEncoding.DecodeString(a.S)
	if err != nil {
		return "", fmt.Errorf("node %q (%s): attribute %q: %w", n.Name, n.Op, key, err)
	}
	return string(b), nil
}

// AttrStrings returns a list-of-string attribute, such as fused_ops.
func (n *Node) AttrStrings(key string) ([]string, error) {
	raw, ok := n.Attr[key]
	if !ok {
		return nil, nil
	}
	var a struct {
		List struct {
			S []string `json:"s"`
		} `json:"list"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("node %q (%s): attribute %q: %w", n.Name, n.Op, key, err)
	}
	out := make([]string, len(a.List.S))
	for i, s := range a.List.S {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): attribute %q: %w", n.Name, n.Op, key, err)
		}
		out[i] = string(b)
	}
	return out, nil
}

// AttrBool returns a bool attribute, false when absent.
func (n *Node) AttrBool(key string) bool {
	var a struct {
		B bool `json:"b"`
	}
	_ = json.Unmarshal(n.Attr[key], &a)
	return a.B
}

// ConstShape returns the declared shape of a Const node's tensor value.
func (n *Node) ConstShape() []int {
	var a struct {
		Tensor struct {
			TensorShape struct {
				Dim []struct {
					Size json.Number `json:"size"`
				} `json:"dim"`
			} `json:"tensorShape"`
		} `json:"tensor"`
	}
	_ = json.Unmarshal(n.Attr["value"], &a)
	var out []int
	for _, d := range a.Tensor.TensorShape.Dim {
		v, _ := strconv.Atoi(string(d.Size))
		out = append(out, v)
	}
	return out
}
