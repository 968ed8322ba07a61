// Package safetensors reads and writes the safetensors tensor file format.
//
// # Byte layout
//
//	offset 0      u64 little-endian N, the header length in bytes
//	offset 8      N bytes of UTF-8 JSON:
//	              {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]},
//	               ...,
//	               "__metadata__": {"<key>": "<value>", ...}}   (optional, string→string)
//	offset 8+N    the data buffer; tensor <name> is buffer[b:e], little-endian, C (row-major) order
//
// The header may end in trailing spaces (0x20); writers use them to align the data buffer.
//
// # Invariants checked by Parse
//
// The file is untrusted. Parse refuses, with an error naming the tensor and the problem:
//   - a header longer than Limits.MaxHeaderBytes (100 MB by default) or than the input;
//   - JSON that is not a single object, duplicate tensor names, a "__metadata__" that is not
//     an object of strings, entries missing dtype, shape or data_offsets, unknown dtypes;
//   - negative dimensions, element or byte counts that overflow;
//   - data_offsets out of order, out of bounds, overlapping, leaving gaps or unused trailing
//     bytes, or whose length is not numel·size(dtype).
//
// Parse does not copy: each Tensor.Data aliases the input slice (with its capacity clipped),
// so the input must not be modified while the File is in use.
//
// # Writing
//
// Write is deterministic: JSON keys are sorted, tensors are laid out in the buffer by
// decreasing element size and then by name, and the header is padded with spaces so the
// buffer starts at a multiple of 8 bytes. Every tensor is then aligned to its element size
// (in the file; an in-memory copy is aligned only if the copy is).
package safetensors
