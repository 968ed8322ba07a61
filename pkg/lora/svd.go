package lora

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// svdFactors is Δ = U·diag(S)·Vᵀ for a delta in PyTorch layout [Out, Fan]:
// U [Out, m], V [Fan, m], S descending.
type svdFactors struct {
	u, v *mat.Dense
	s    []float64
}

// deltaSVD returns the SVD of factor·B·A. When Rank ≤ min(Out, Fan) it uses
// B = Q_B·R_B, Aᵀ = Q_A·R_A, so Δ = Q_B·(factor·R_B·R_Aᵀ)·Q_Aᵀ and only the Rank×Rank core
// needs an SVD; otherwise it factorizes the (then small) dense delta.
func deltaSVD(l *LayerAdapter, factor float64) (svdFactors, error) {
	n, r := l.Fan(), l.Rank
	b := mat.NewDense(l.Out, r, toFloat64(l.B))
	at := mat.NewDense(n, r, nil)
	for q := 0; q < r; q++ {
		for c := 0; c < n; c++ {
			at.Set(c, q, float64(l.A[q*n+c]))
		}
	}
	var f svdFactors
	if r > l.Out || r > n {
		var d mat.Dense
		d.Mul(b, at.T())
		d.Scale(factor, &d)
		return denseSVD(l.Layer, &d)
	}
	qb, rb := thinQR(b)
	qa, ra := thinQR(at)
	var core mat.Dense
	core.Mul(rb, ra.T())
	core.Scale(factor, &core)
	var svd mat.SVD
	if !svd.Factorize(&core, mat.SVDThin) {
		return f, fmt.Errorf("lora: layer %q: SVD of the rank-%d core did not converge", l.Layer, r)
	}
	var uc, vc mat.Dense
	svd.UTo(&uc)
	svd.VTo(&vc)
	f.u, f.v = new(mat.Dense), new(mat.Dense)
	f.u.Mul(qb, &uc)
	f.v.Mul(qa, &vc)
	f.s = svd.Values(nil)
	return f, nil
}

// denseSVD returns the thin SVD of d.
func denseSVD(layer string, d *mat.Dense) (svdFactors, error) {
	var svd mat.SVD
	if !svd.Factorize(d, mat.SVDThin) {
		r, c := d.Dims()
		return svdFactors{}, fmt.Errorf("lora: layer %q: SVD of the %d×%d delta did not converge", layer, r, c)
	}
	f := svdFactors{u: new(mat.Dense), v: new(mat.Dense), s: svd.Values(nil)}
	svd.UTo(f.u)
	svd.VTo(f.v)
	return f, nil
}

// thinQR returns Q [m, n] with orthonormal columns and upper-triangular R [n, n], a = Q·R,
// for m ≥ n. mat.QR only forms the full m×m Q, too big for conv fans in the thousands.
func thinQR(a *mat.Dense) (q, r *mat.Dense) {
	m, n := a.Dims()
	g := mat.DenseCopyOf(a).RawMatrix()
	tau := make([]float64, n)
	work := []float64{0}
	lapack64.Geqrf(g, tau, work, -1)
	work = make([]float64, max(1, int(work[0])))
	lapack64.Geqrf(g, tau, work, len(work))
	r = mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			r.Set(i, j, g.Data[i*g.Stride+j])
		}
	}
	lapack64.Orgqr(g, tau, work[:1], -1)
	if need := int(work[0]); need > len(work) {
		work = make([]float64, need)
	}
	lapack64.Orgqr(g, tau, work, len(work))
	return mat.NewDense(m, n, g.Data[:m*g.Stride]), r
}

// lowRank splits the top k singular triplets evenly: B = U_k·√S_k [Out, k], A = √S_k·V_kᵀ [k, Fan].
func lowRank(f svdFactors, k int) (a, b []float32) {
	out, _ := f.u.Dims()
	n, _ := f.v.Dims()
	a = make([]float32, k*n)
	b = make([]float32, out*k)
	for j := 0; j < k; j++ {
		rs := math.Sqrt(f.s[j])
		for o := 0; o < out; o++ {
			b[o*k+j] = float32(f.u.At(o, j) * rs)
		}
		for c := 0; c < n; c++ {
			a[j*n+c] = float32(rs * f.v.At(c, j))
		}
	}
	return a, b
}

// SingularValues returns the singular values of l's scaled delta scale·B·A, largest first.
// There are min(Rank, Out, In·KH·KW) of them.
func (l *LayerAdapter) SingularValues() ([]float64, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	f, err := deltaSVD(l, l.Scale())
	if err != nil {
		return nil, err
	}
	return f.s, nil
}

func toFloat64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
