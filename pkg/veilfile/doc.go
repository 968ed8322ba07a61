// Package veilfile reads and writes .veil files: one int8 model (an
// infer.QNet) with the metadata needed to use it.
//
// # Layout
//
// A .veil file is a safetensors file (see package safetensors), so standard
// tools can list and load its tensors:
//
//	offset 0   u64 little-endian N, the header length
//	offset 8   N bytes of JSON, keys sorted, starting with the magic
//	           {"__metadata__":{"format":"veil","format_version":"1",...
//	offset 8+N the data buffer, tensors aligned to their element size
//
// The first 34 header bytes, `{"__metadata__":{"format":"veil",`, are the
// magic; "format_version" follows at once. Version 1: 8-bit activations.
// Version 2 adds veil.activation_bits, 8 or 12 (infer.QParams.Wide; 12-bit
// activations are stored as uint16 in [0, 4095], with zero points up to
// 4095); the tensors are the same. Version 3 adds "mixed": each tensor's
// width is in act.bits. Encode writes the oldest version that holds the
// model (1 for 8 bits, 2 for 12, 3 for a mix), so older readers still read
// what they can.
//
// # Metadata (__metadata__, string → string)
//
//	format              "veil"
//	format_version      "1"; "2" with 12-bit activations; "3" with a mix
//	veil.activation_bits from version 2: "8" or "12"; from version 3 also "mixed"
//	veil.architecture   network name, e.g. "mobilenet_v2"
//	veil.input_size     S, the square input side
//	veil.preprocessing  how an image becomes the S×S×3 input (Preprocessing)
//	veil.classes        JSON array of class names, in output order
//	veil.source         the float model the file was made from
//	veil.source_sha256  SHA-256 of the source model files
//	veil.adapters       JSON array of {"path","sha256","weight"}: LoRA adapters merged first
//	veil.calibration    how activation ranges were calibrated
//	veil.graph          JSON: ops, tensor shapes, input affine (graphJSON)
//	veil.sha256         checksum: lowercase hex SHA-256 of the whole file with
//	                    these 64 characters replaced by '0'
//
// # Tensors
//
// Per activation tensor t (all tensors, by QNet id):
//
//	act.scale  F32 [T]   QParams.Scale
//	act.zero   I32 [T]   QParams.Zero
//	act.bits   U8  [T]   8 or 12 (QParams.Wide); only with "mixed"
//
// Per op i with weights (i as three or more digits, e.g. "ops.007"):
//
//	ops.<i>.weight        I8  conv [kh,kw,in,out]; depthwise [kh,kw,C,1]; dense [in,out]
//	ops.<i>.weight_scale  F32 [out]
//	ops.<i>.bias          I32 [out], at scale in_scale·weight_scale
//
// A tensor may instead be stored DEFLATE-compressed (RFC 1951) as
// "<name>.deflate", dtype U8, shape [compressed bytes]; its real dtype and
// shape are those listed above. Write compresses the weights by default
// (int8 weights are not uniformly distributed, so this saves 10–20%);
// Options.Raw keeps every tensor plain.
//
// # Reading untrusted files
//
// Read checks, before returning and without trusting any size it reads:
// the magic, the version, the checksum, the safetensors structure, every
// tensor's dtype and shape against the op that owns it, decompressed sizes
// (bounded by the expected size, itself bounded by the op's geometry), and
// finally infer.QNet.Validate. Every failure is an error saying what and
// where; Read never panics, and allocates at most a small multiple of the
// file size plus the declared weights (bounded by MaxWeightBytes).
//
// ReadFrom does the same reading from an io.Reader, one tensor at a time:
// the file is never in memory whole, only its header and the model. The
// checksum is then known only at the end; when a check fails before, the
// rest is still read, so that a corrupted file is reported as one.
//
// ReadWith does the same with the DEFLATE and SHA-256 work handed to the
// caller (ReadOptions): the wasm module passes the browser's native
// DecompressionStream and crypto.subtle. Sizes are still checked here.
package veilfile
