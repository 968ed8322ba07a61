package infer

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestPlanBuffers checks on random graphs that every tensor that needs a
// buffer gets one of its size, and that no two tensors alive at the same
// time share a byte.
func TestPlanBuffers(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 200 {
		nops := 1 + r.IntN(30)
		sizes := []int{1 + r.IntN(50)} // tensor 0: the input
		type opSpec struct {
			in       []int
			out      int
			needsBuf bool
		}
		ops := make([]opSpec, nops)
		for i := range ops {
			in := []int{r.IntN(len(sizes))}
			if r.IntN(3) == 0 {
				in = append(in, r.IntN(len(sizes)))
			}
			sizes = append(sizes, r.IntN(60))
			ops[i] = opSpec{in, len(sizes) - 1, r.IntN(8) != 0}
		}
		bufs := planBuffers[uint8](sizes, nops, func(i int) ([]int, int, bool) { return ops[i].in, ops[i].out, ops[i].needsBuf })
		first, last := make([]int, len(sizes)), make([]int, len(sizes))
		for t := range sizes {
			first[t], last[t] = -1, -1
		}
		last[0] = nops
		for i, o := range ops {
			for _, x := range o.in {
				last[x] = max(last[x], i)
			}
			first[o.out], last[o.out] = i, max(last[o.out], i)
		}
		for i, o := range ops {
			if o.needsBuf && len(bufs[o.out]) != sizes[o.out] {
				t.Fatalf("trial %d: op %d's output has %d elements, want %d", trial, i, len(bufs[o.out]), sizes[o.out])
			}
		}
		for a := range sizes {
			for b := a + 1; b < len(sizes); b++ {
				if len(bufs[a]) == 0 || len(bufs[b]) == 0 || first[a] > last[b] || first[b] > last[a] {
					continue
				}
				pa, pb := uintptr(unsafe.Pointer(&bufs[a][0])), uintptr(unsafe.Pointer(&bufs[b][0]))
				if pa < pb+uintptr(len(bufs[b])) && pb < pa+uintptr(len(bufs[a])) {
					t.Fatalf("trial %d: tensors %d and %d are alive together and share bytes", trial, a, b)
				}
			}
		}
	}
}
