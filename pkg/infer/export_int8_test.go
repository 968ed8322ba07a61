package infer

// NewInt8Ref is NewInt8 running the reference conv and depthwise kernels,
// for A/B tests and timing against the fast kernels in the same process. It keeps q's raw conv weights, which the reference
// conv reads and PackInt8 drops.
func NewInt8Ref(q *QNet) *Int8 {
	if err := q.Validate(); err != nil {
		panic(err)
	}
	e := NewInt8Packed(&Int8Weights{q: *q, conv: make([]*PackedConv, len(q.Ops))})
	for i := range e.plans {
		e.plans[i].dw = false
	}
	return e
}
