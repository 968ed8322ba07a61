// Package train fits LoRA adapters to the classification head of veil's nsfwjs
// models from a few dozen labelled images, with the backbone frozen.
//
// # Pipeline
//
//  1. infer.SplitHead cuts the float Net into a backbone (image → feature vector,
//     1280 values for MobileNetV2) and a head of dense layers (dense_1 256 relu,
//     dense_2 128 relu, dense_3 5 softmax; MobileNetV2Mid has one layer, "dense").
//
//  2. An Extractor runs the backbone once per (image, augmentation) and caches the
//     features: variant 0 is the image as nsfwjs sees it, the others are flipped,
//     randomly cropped (resized back) and colour-jittered copies (Augment).
//
//  3. Fit trains LoRA factors on the head in float64 with manual backprop, AdamW
//     (decoupled weight decay) and dropout on the LoRA path input, as PEFT does:
//
//     z = h·W + b + scale·B·(A·dropout(h)),  scale = alpha/r
//
//     A [r, in] starts uniform in ±1/√in (PEFT's kaiming init), B [out, r] at zero,
//     so training starts from the stock model exactly. The loss is the mean cross
//     entropy on labelled samples plus Retention × the mean KL(base ‖ adapted) on
//     replay samples (images whose stock answers must not change); the gradient of
//     both at the logits is weight·(p − target).
//
//  4. Early stopping keeps the epoch with the lowest validation loss; Search runs a
//     grid of (rank, alpha, learning rate, weight decay) and keeps the best
//     validation score (see Result.Score).
//
//  5. Model.Adapter exports the factors as a lora.Adapter (dense layers only, Keras
//     layer names as target modules), which lora.WritePEFT writes and lora.Merge
//     merges: W' = W + scale·(B·A)ᵀ in Keras [in, out] layout.
//
// # The stem
//
// Optionally the last 1×1 conv before the global pool (Conv_1 in the MobileNetV2
// models) is adapted too (Stem, NewExtractor(net, "Conv_1")): samples then cache
// that conv's input X [49, 320] and its frozen output X·W + b, and the tail
//
//	features = mean_p act((X·W + b + scale·B·(A·X))[p]·Mul + Add)
//
// (BatchNorm folded into Mul, Add) is trained with the head, about 30 times
// slower per sample than the head alone and with no dropout on the conv path.
// Deeper convs are not trainable here: their outputs pass through spatial ops
// that the cache would have to recompute. Adapters for any conv can still be
// merged (NetKernels).
//
// # Layer names
//
// Adapters name layers as NetKernels keys them: Keras layer names for the layers
// models (dense_1, Conv_1); for MobileNetV2Mid's graph the short name when unique
// ("dense" for "StatefulPartitionedCall/sequential/dense/BiasAdd", "Conv_1"),
// else the full node name.
//
// # Determinism
//
// Everything is seeded: the split, augmentations (per image and variant, so the
// number of workers does not matter), initialisation, dropout and batch order.
package train
