package lora

import (
	"fmt"
	"math"
)

// RankMethod selects how Resize chooses a layer's new rank k from its singular values σ
// (largest first), as kohya's resize_lora does.
type RankMethod string

const (
	RankFixed        RankMethod = "fixed"         // k = Rule.Rank
	RankSVRatio      RankMethod = "sv_ratio"      // k = #{σ_i > σ_max/Param}, Param ≥ 1
	RankSVFro        RankMethod = "sv_fro"        // smallest k with Σ_{i<k} σ_i² ≥ Param·Σ σ², Param in (0, 1]
	RankSVCumulative RankMethod = "sv_cumulative" // smallest k with Σ_{i<k} σ_i ≥ Param·Σ σ, Param in (0, 1]
)

// RankRule is a rank selection rule. For the dynamic methods Rank, if positive, caps k.
// k is always at least 1 and at most the number of singular values.
type RankRule struct {
	Method RankMethod
	Rank   int
	Param  float64
}

// LayerReport describes what Resize did to one layer.
type LayerReport struct {
	Layer      string
	OldRank    int
	NewRank    int
	MaxSV      float64 // σ_1 of the scaled delta
	MinKeptSV  float64 // σ_k
	EnergyKept float64 // Σ_{i≤k} σ_i² / Σ σ_i², the kept fraction of ‖Δ‖_F²
	RelError   float64 // ‖Δ − Δ_k‖_F / ‖Δ‖_F = √(Σ_{i>k} σ_i² / Σ σ_i²)
}

func (r RankRule) validate() error {
	switch r.Method {
	case RankFixed:
		if r.Rank < 1 {
			return fmt.Errorf("lora: rank rule %s needs a rank ≥ 1, got %d", r.Method, r.Rank)
		}
	case RankSVRatio:
		if !(r.Param >= 1) || math.IsInf(r.Param, 0) {
			return fmt.Errorf("lora: rank rule %s needs a ratio ≥ 1, got %g", r.Method, r.Param)
		}
	case RankSVFro, RankSVCumulative:
		if !(r.Param > 0 && r.Param <= 1) {
			return fmt.Errorf("lora: rank rule %s needs a fraction in (0, 1], got %g", r.Method, r.Param)
		}
	default:
		return fmt.Errorf("lora: unknown rank method %q (want fixed, sv_ratio, sv_fro or sv_cumulative)", r.Method)
	}
	if r.Rank < 0 {
		return fmt.Errorf("lora: rank rule %s: negative rank cap %d", r.Method, r.Rank)
	}
	return nil
}

// choose returns k for singular values s (descending).
func (r RankRule) choose(s []float64) int {
	k := len(s)
	switch r.Method {
	case RankFixed:
		k = r.Rank
	case RankSVRatio:
		k = 0
		for _, v := range s {
			if v > s[0]/r.Param {
				k++
			}
		}
	case RankSVFro, RankSVCumulative:
		pow := 2.0
		if r.Method == RankSVCumulative {
			pow = 1
		}
		prefix := make([]float64, len(s))
		acc := 0.0
		for i, v := range s {
			acc += math.Pow(v, pow)
			prefix[i] = acc
		}
		for i, p := range prefix {
			if p >= r.Param*acc {
				k = i + 1
				break
			}
		}
	}
	if r.Rank > 0 {
		k = min(k, r.Rank)
	}
	return max(1, min(k, len(s)))
}

// Resize returns a copy of a with every layer's delta replaced by its best rank-k approximation
// (truncated SVD, computed with the QR trick), k chosen by rule. The new factors are
// B = U_k·√S_k and A = √S_k·V_kᵀ with the old scale folded in, and Alpha is set so the scale
// is 1 (α = k, or √k under rsLoRA). DoRA magnitudes are kept as they are.
// Resize never increases a rank.
func Resize(a *Adapter, rule RankRule) (*Adapter, []LayerReport, error) {
	if err := rule.validate(); err != nil {
		return nil, nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, nil, err
	}
	out := &Adapter{Name: a.Name, UseRSLoRA: a.UseRSLoRA, FanInFanOut: a.FanInFanOut, Metadata: copyMetadata(a.Metadata)}
	reports := make([]LayerReport, 0, len(a.Layers))
	for i := range a.Layers {
		l := &a.Layers[i]
		f, err := deltaSVD(l, l.Scale())
		if err != nil {
			return nil, nil, a.wrap(err)
		}
		k := rule.choose(f.s)
		nl := truncated(l, f, k)
		out.Layers = append(out.Layers, nl)
		reports = append(reports, report(l.Layer, l.Rank, f.s, k))
	}
	return out, reports, nil
}

// truncated returns l with its delta replaced by the rank-k truncation of f, at scale 1.
func truncated(l *LayerAdapter, f svdFactors, k int) LayerAdapter {
	nl := *l
	nl.Rank = k
	nl.A, nl.B = lowRank(f, k)
	nl.Alpha = float64(k)
	if nl.RSLoRA {
		nl.Alpha = math.Sqrt(float64(k))
	}
	if l.Magnitude != nil {
		nl.Magnitude = append([]float32(nil), l.Magnitude...)
	}
	return nl
}

func report(layer string, oldRank int, s []float64, k int) LayerReport {
	total, kept, dropped := 0.0, 0.0, 0.0
	for i, v := range s {
		total += v * v
		if i < k {
			kept += v * v
		} else {
			dropped += v * v
		}
	}
	r := LayerReport{Layer: layer, OldRank: oldRank, NewRank: k, EnergyKept: 1}
	if len(s) > 0 {
		r.MaxSV, r.MinKeptSV = s[0], s[k-1]
	}
	if total > 0 {
		r.EnergyKept = kept / total
		r.RelError = math.Sqrt(dropped / total)
	}
	return r
}
