package infer

// planBuffers gives every tensor written by an op a buffer, reusing the
// buffer of a tensor whose last reader has run (smallest that fits). Tensor
// 0, the input, gets its own buffer and is never reused. The plan is made
// once per executor, so Run itself allocates nothing.
//
// sizes[t] is tensor t's element count; op(i) returns what op i reads and
// writes, and whether its output needs a buffer at all.
func planBuffers[T any](sizes []int, nops int, op func(i int) (in []int, out int, needsBuf bool)) [][]T {
	bufs := make([][]T, len(sizes))
	lastUse := make([]int, len(sizes))
	for i := range lastUse {
		lastUse[i] = -1
	}
	for i := 0; i < nops; i++ {
		in, _, _ := op(i)
		for _, t := range in {
			lastUse[t] = i
		}
	}
	var free [][]T
	take := func(n int) []T {
		best := -1
		for i, b := range free {
			if cap(b) >= n && (best < 0 || cap(b) < cap(free[best])) {
				best = i
			}
		}
		if best < 0 {
			return make([]T, n)
		}
		b := free[best]
		free = append(free[:best], free[best+1:]...)
		return b[:n]
	}
	bufs[0] = make([]T, sizes[0])
	for i := 0; i < nops; i++ {
		in, out, needsBuf := op(i)
		if needsBuf {
			bufs[out] = take(sizes[out])
		}
		for _, t := range in {
			if lastUse[t] == i && t != 0 {
				free = append(free, bufs[t])
				lastUse[t] = -2 // released once, even if read twice by op i
			}
		}
	}
	return bufs
}
