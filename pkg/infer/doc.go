// Package infer is veil's inference engine: the three nsfwjs networks
// (MobileNetV2, MobileNetV2Mid, InceptionV3) as a Net of ops, a float32
// reference executor, and the preprocessing nsfwjs applies.
//
// One image goes from bytes to probabilities like this:
//
//	rgb, _ := decode.Decode(data, decode.DefaultLimits)        // pkg/infer/decode
//	x := make([]float32, S*S*3)
//	infer.Preprocess(x, rgb.Pix, rgb.W, rgb.H, S)             // /255, bilinear resize (alignCorners)
//	probs := infer.NewFloat(net).Run(x)                       // [Drawing Hentai Neutral Porn Sexy]
//
// A Net comes from a TF.js model (package tfjs) through Build: Keras layers
// models and TF graph models are both turned into the same list of ops over
// numbered tensors. Tensor 0 is the S×S×3 input; every tensor is NHWC for a
// batch of one (H×W×C, index (y*W+x)*C+c). Weights keep the TF.js layout:
// conv [kh, kw, in, out], depthwise [kh, kw, C, 1], dense [in, out].
//
// The *Ref kernels are the specification of each op: plain loops that
// accumulate in float64 and round to float32 once per output. They match
// TF.js (cpu backend) to float32 rounding; faster kernels are tested
// against them.
//
// The int8 engine runs a QNet (read from a .veil file by package veilfile):
// int8 weights, activations of 8 bits (uint8) or 12 (uint16 in [0, 4095]),
// per tensor (QParams.Wide; the kernels are generic over the two, Activ,
// and a conv may read one width and write the other). PackInt8 checks it
// and packs its conv weights once for the fast kernels, NewInt8Packed
// plans a runner's activations as offsets in one arena, and
// Int8.Run quantizes the input and runs integer kernels that give the same
// bits natively (portable Go, or AVX2 with Go 1.27's simd package) and in
// WebAssembly (portable, or SIMD128). NewInt8Classifier does all of that
// for a Classifier.
//
// Programmer errors (wrong buffer sizes) panic with an "infer: " prefix;
// bad model files return errors naming the layer or node.
package infer
