// Package lora reads, writes, reshapes and merges LoRA adapters for veil's Keras-layout models.
//
// # Layouts
//
// The engine stores weights as TF.js/Keras does, row-major with the last index fastest:
//
//	dense kernel      [in, out]
//	conv kernel       [kh, kw, in, out]
//	depthwise kernel  [kh, kw, C, 1]   (grouped: LoRA is refused, as PEFT refuses it)
//
// Adapters are stored as PEFT and kohya store them, in PyTorch order:
//
//	A (lora_A, lora_down)  [r, in]          or conv [r, in, kh, kw]; LayerAdapter.A is [r, in·kh·kw]
//	B (lora_B, lora_up)    [out, r]         or conv [out, r, 1, 1];  LayerAdapter.B is [out, r]
//	DoRA magnitude m       [out]            (PEFT conv files: [1, out, 1, 1])
//
// The PyTorch delta is D = scale·B·A, D[o, (i·kh + y)·kw + x], i.e. a weight [out, in, kh, kw]
// (for a Linear layer [out, in]). In Keras layout it lands at
//
//	K[((y·kw + x)·in + i)·out + o] = D[o, (i·kh + y)·kw + x]
//
// so a dense delta is simply transposed ([out, in] → [in, out]); see LayerAdapter.Delta.
//
// # Scale
//
// scale = alpha/r, or alpha/√r with rsLoRA (LayerAdapter.RSLoRA). r is always taken from the
// tensor shapes; alpha comes from the PEFT config (alpha_pattern overriding lora_alpha) or the
// kohya ".alpha" scalar (rank if absent). Merge adds weight·scale·B·A; with DoRA it computes
// m·V/‖V‖ per output channel with V = W + scale·B·A, the norm taken over all input dims
// (in, kh, kw) of that channel, as PEFT does.
//
// PEFT's fan_in_fan_out only says the base weight is stored [in, out] (GPT-2 Conv1D); A and B
// keep the shapes above, so it does not change the delta and is only carried through.
//
// # Layer names
//
// Adapters name layers by their nsfwjs/Keras layer name (dense_1, Conv_1, block_16_project,
// conv2d_94). Readers keep the module path found in the file, minus a format prefix:
//
//	PEFT   base_model.model.<module>.lora_A.weight  → Layer "<module>" (e.g. "dense_1" or "model.dense_1")
//	kohya  lora_<module>.lora_down.weight           → Layer "<module>" (dots and slashes were written as "_")
//
// Merge (and ResolveLayer) match an adapter layer to a model layer by, in order: equal names;
// otherwise the longest model layer name n such that the adapter name, with "." and "/"
// replaced by "_", equals n (so replaced) or ends in "_"+n. So "model.dense_1" and
// "lora_te_dense_1"-style names find dense_1. Writers emit "base_model.model.<Layer>" and
// "lora_<Layer with . and / as _>".
//
// # Invariants
//
// Adapters are validated before use: every size positive, len(A) = r·in·kh·kw,
// len(B) = out·r, finite values. Merge validates every adapter against every target before
// it changes anything, adds nothing where the delta is zero (so weight 0 or B = 0 leaves a
// kernel bit-identical), and accumulates in float64. Functions returning an *Adapter never
// modify their inputs.
//
// LoHa, LoKr, kohya's lora_mid (Tucker) and dora_scale, and PEFT's lora bias are other
// decompositions; readers reject them with an error instead of merging something wrong.
package lora
