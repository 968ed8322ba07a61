//go:build goexperiment.simd && amd64

package infer

import "testing"

// TestInt8NoAVX2 runs the conv and depthwise tests on the scalar paths a
// GOEXPERIMENT=simd build takes on a CPU without AVX2.
func TestInt8NoAVX2(t *testing.T) {
	conv, dw := convAVX2, hasAVX2
	convAVX2, hasAVX2 = false, false
	defer func() { convAVX2, hasAVX2 = conv, dw }()
	t.Run("conv", TestConvInt8MatchesRef)
	t.Run("depthwise", TestDepthwiseInt8MatchesRef)
	t.Run("depthwise_wide", TestDepthwiseInt8Wide)
}
