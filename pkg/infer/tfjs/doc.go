// Package tfjs reads models saved in the standard TensorFlow.js layout: a
// model.json file plus binary weight shards, as written by tfjs-converter and
// as produced from the nsfwjs npm package by `make models`.
//
// Two topologies are understood:
//
//   - "layers-model": a Keras model config (Model/Functional), whose layers
//     and their inbound connections are returned as [Layer] values;
//   - "graph-model": a TensorFlow GraphDef, returned as [Node] values.
//
// This package only parses; it does not know what a Conv2D computes. Package
// infer turns the parsed layers or nodes into an executable network and
// reports unknown layer classes and ops by name.
//
// Weights are returned as float32 in the layout TF.js uses: conv kernels
// [kh, kw, in, out], depthwise kernels [kh, kw, C, multiplier], dense kernels
// [in, out]. Shards are consecutive slices of one buffer, concatenated in
// manifest order; a tensor may straddle shards. Quantized weights (uint8 or
// uint16 with per-tensor {min, scale}, or float16) are dequantized exactly as
// TF.js does it: value = float32(q*scale + min), computed in float64.
//
// Nothing read from disk is trusted: sizes, shapes and offsets are checked
// against the bytes actually present before anything is allocated from them.
package tfjs
