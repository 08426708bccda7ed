// Package engine runs GGUF transformer models (llama and qwen2 families) on the
// CPU in pure Go, and holds the KV cache that the compression stages read and
// that attention reads back from.
//
// # Conventions
//
//   - Matrices are row-major float32 slices. A GGUF weight with dims [in, out]
//     is an out×in matrix; a matrix product computes out = x·Wᵀ, with x an
//     n×in activation matrix (one row per token) and out n×out.
//   - Activations are laid out [token][head][dim]: the query of token i, head h
//     starts at (i*Heads+h)*HeadDim.
//   - Cached keys and values are per (layer, KV head) rows of HeadDim floats;
//     keys are stored with RoPE applied, exactly as attention reads them.
//     Query head h belongs to KV head h/(Heads/KVHeads).
//   - Logits are float32 rows of Vocab values.
//   - Weights stay in the memory-mapped file in their GGUF type; the matrix
//     product dequantizes tiles of weight rows to float32 on the fly.
//
// # Who allocates
//
// Functions returning slices (Forward, Generate, Export) allocate them; the
// caller owns the result. Cache.ReadBlock fills a caller-owned Block and may
// grow its slices. Model.RoPE works in place.
//
// # Errors and panics
//
// Bad input — a malformed or unsupported file, a prompt longer than the
// context, a token id outside the vocabulary, a cache of the wrong shape —
// returns an error naming the file, tensor or lengths involved. The package
// panics only on programming errors inside itself.
//
// # Concurrency
//
// A Model is read-only after Load and may run several Forward calls at once on
// distinct caches. Each Forward parallelises its matrix products over output
// rows and its attention over (KV head, query range) with Threads goroutines.
package engine
