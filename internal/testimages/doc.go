// Package testimages generates veil's deterministic conformance images and
// reads the golden nsfwjs outputs recorded for them.
//
// Every image is 8-bit RGB, row-major, interleaved: the sample of channel c
// (0 red, 1 green, 2 blue) at column x and row y is Pix[(y*W+x)*3+c].
// Names say width before height ("aspect_2000x7" is 2000 columns, 7 rows).
//
// Invariants:
//   - Generators use integer arithmetic only (an integer hash instead of a
//     random stream, integer square roots and fixed-point blends), so every
//     image is bit-identical on every GOOS/GOARCH, including js/wasm.
//     TestPixelHashes pins a selection of SHA-256 sums to catch a drift.
//   - All returns the same names in the same order on every call; a name,
//     once published in testdata/golden, keeps its pixels. Change an image
//     only together with regenerating the goldens (conformance/run.sh).
//   - Large images (Spec.Large, about 12 MP) are cheap to generate but are
//     skipped by tests in -short mode and under js/wasm.
//
// The golden files (testdata/golden/<model>.json) are produced by running the
// real nsfwjs 4.4.0 on TensorFlow.js over these images; see
// conformance/README.md. LoadGolden reads and validates them.
package testimages
