// Package quantize turns a float infer.Net into an int8 infer.QNet
// (post-training quantization) and reports what that cost.
//
// The steps, in order (Quantize):
//
//  1. Fold: BatchNorm into the conv/depthwise/dense before it
//     (W' = W·γ/√(σ²+ε), b' = β + (b − μ)·γ/√(σ²+ε)); activations into the
//     op before them; ZeroPad into the next conv's padding; Reshape dropped.
//     LoRA adapters, if any, must be merged into the float weights before
//     (tools/quantize does it), so the order is merge → fold → quantize.
//  2. Calibrate: run the folded float net on the calibration inputs and
//     observe every activation tensor (exact min/max plus a strided sample
//     of ≤ 4096 values per image, see Observer).
//  3. Activation ranges, per tensor, by Method (MinMax, Percentile, MSE),
//     widened to contain 0; 8-bit asymmetric: real = scale·(q − zero),
//     q ∈ [0, 255], integer zero point. Pools keep their input's
//     parameters; a concat input written only for the concat shares the
//     concat's (a copy, TFLite style). The model input is quantized on its
//     known range ([0,1] → scale 1/255, exact for unresized images).
//  4. Weights: symmetric int8 in [−127, 127], one scale per output channel
//     (QuantizePerChannel; depthwise: per channel). Biases: int32 at scale
//     in_scale·w_scale[c] (QuantizeLayer; a dead channel with zero weights
//     and a nonzero bias gets a larger weight scale so its bias fits).
//  5. Report: per layer bytes, weight SQNR and output SQNR (dequantized
//     int8 vs float on the first Options.SQNRImages images); top-1
//     agreement and mean/max |Δp| against the float net on all calibration
//     images.
//
// Requantization in the QNet is integer fixed point (infer.Multiplier), the
// final dense's int32 logits are dequantized in float64 and go through a
// deterministic softmax (infer.ExpDet), so a .veil file gives the same
// bits natively and in WebAssembly.
//
// # Calibration method
//
// Measured on MobileNetV2 with the first 16 built-in calibration images
// (agreement with float on those images; top-1 / mean |Δp| / max |Δp|):
//
//	minmax            93.8%  0.0161  0.253
//	percentile 99.99  93.8%  0.0189  0.322
//	mse               93.8%  0.0157  0.287
//
// The differences are small next to the per-channel effects still left
// (see the package report); DefaultMethod is MinMax, the simplest and the
// best on the worst case.
package quantize
