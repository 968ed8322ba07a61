package infer

// UseRefKernels makes e run convolutions with the reference kernels, for A/B
// timing against the fast kernels in the same process.
func UseRefKernels(e *Int8) {
	for i := range e.plans {
		e.plans[i].conv = nil
		e.plans[i].dw = false
	}
}
