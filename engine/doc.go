// Package engine runs GGUF transformer models on the CPU in pure Go, and holds
// the KV cache that the compression stages read and that attention reads back
// from. Architectures (arch.go): llama (Llama 2/3.x with rope_freqs, Mistral,
// SmolLM), qwen2, qwen3, smollm3, phi3, gemma2 and gemma3 (text). Any other
// GGUF file still gets its header read (ReadShape).
//
// # Layer types
//
// Layers differ by architecture and, within one model, by position: a
// sliding-window layer (gemma2/3) attends to the last SlidingWindow positions
// and may have its own RoPE base; a no-RoPE layer (smollm3's every fourth)
// rotates nothing; Q/K-normalised layers (qwen3, gemma3) RMS-normalise each
// head's query and key before RoPE. Config.Layer describes each layer;
// Model.RoPELayer is its rotation. A FloatCache keeps every row; attention
// masks a sliding layer's rows by position, so a packed cache may leave out
// what the window hides.
//
// # Conventions
//
//   - Matrices are row-major float32 slices. A GGUF weight with dims [in, out]
//     is an out×in matrix; a matrix product computes out = x·Wᵀ, with x an
//     n×in activation matrix (one row per token) and out n×out.
//   - Activations are laid out [token][head][dim]: the query of token i, head h
//     starts at (i*Heads+h)*HeadDim.
//   - Cached keys and values are per (layer, KV head) rows of HeadDim floats
//     with their positions, in blocks; keys are stored with RoPE applied,
//     exactly as attention reads them. Query head h belongs to KV head
//     h/(Heads/KVHeads).
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
// # Numerics
//
// The forward pass computes what llama.cpp computes, in float32: RMSNorm with
// a float64 sum of squares, RoPE angles by ggml's float32 recurrence, and the
// activations rounded before each weight product to the weight type's dot
// type as llama.cpp does (float16 for F16 weights, Q8_0 blocks for
// Q4_0/Q8_0, Q8_K blocks for the K-quants; Model.FloatActivations turns this
// off). The KV cache is float32 (llama.cpp's default is float16). Against
// llama.cpp's own figures, perplexities agree within 0.2% and F16 logits within
// ~4e-3; quantized weights within ~0.15 (one flipped activation rounding
// moves a logit of these random-weight test models by ~0.05).
//
// Model.Exact reproduces llama.cpp's CPU backend bit for bit instead
// (ggmlmath.go, exactmul.go, exactattn.go, sincosf.go): float16 KV cells
// padded to 32, attention without flash attention through ggml's softmax,
// the lane layout and reduction order of every kernel it runs for each
// weight type and batch size (ggml_vec_dot_*, llamafile's tinyBLAS, the
// repacked Q4_0 kernels), its vector exp, GCC's FMA contractions in RoPE, and
// glibc's sincosf for the angles. The target is the build the reference
// figures came from: llama.cpp c392e509 on x86-64 with AVX-512 (16-lane float
// loops; the quantized dot products use ggml's 256-bit paths there too). On
// the synthetic reference models the logits equal llama.cpp's to the printed
// six decimals at every step and perplexities to the printed digits. It is
// Go, 5 to 30 times slower than the default path depending on the weight type
// (Q8_0 and Q4_K products run in the default path's decode kernels, which
// compute exactly what llama.cpp does).
//
// # Speed
//
// Matrix products run over units of output rows on Threads workers
// (SetThreads; default GOMAXPROCS): the caller's goroutine and helpers from a
// persistent pool that spin briefly between parallel regions and then park
// (threads.go); units are handed out in shrinking runs (guided
// self-scheduling), so a decode step's hundreds of units cost each worker a
// few atomic operations, not one per unit. The inner loops come from a kernel set: "avx2" (AVX2/FMA/F16C
// assembly: matmul_amd64.s, vecmath_amd64.s, and exp and SiLU from
// internal/vec, which stages shares), "avx512" (that set with 16-lane
// AVX-512 kernels: gemm512_amd64.s for batch products and the F16 decode
// product; q4k512, q6k512 and q80512_amd64.s, AVX-512BW integer decode
// products; pv512_amd64.s and softmax512_amd64.s for attention;
// roundq8k512_amd64.s) or "go" (the plain Go twins, matmul_generic.go,
// vecmath.go, internal/vec's, also what NEXUSQUANT_NOASM=1 forces). The
// CPU's best set is chosen at start-up and held by each model;
// Model.WithKernels gives a copy that computes with another set, for
// side-by-side comparisons. Every assembly kernel has a Go twin that sums in
// the same order, checked bit for bit.
//
// A batch dequantizes a tile of weight rows to float32 once for all its
// rows. A single row (decode) is bound by reading the weights, so it takes
// units of ~32 KB of weights, and F16, Q8_0, Q4_K and Q6_K rows stream
// through fused kernels that convert or dequantize in registers with a
// linear prefetch ahead and never write a tile. With rounded activations
// (the default) Q8_0, Q4_K and (with the assembly sets) Q6_K rows take
// integer dot products with the Q8_0 / Q8_K activations, as llama.cpp does;
// the kernels fold each block's exact integer lane sums into 8 (AVX2) or 16
// (AVX-512) float lanes.
// Element-wise steps of a prefill (norms, RoPE, the gated activation,
// residual adds) are split over the workers too, and a call's activations
// live in pooled buffers.
// Attention works per (KV head, range of queries) with an online softmax over
// one cache block at a time: scores by the batch kernels, a vectorised scale
// and maximum over each query's visible run of rows, and (AVX-512) the
// weights times V straight from V's rows. A cache that decodes its rows (a
// packed prefix) is read in runs of blocks straight into the buffer folded
// in (BlockRunReader), a few hundred rows per call; where it offers the
// values in a basis of its own (RotatedVReader: a packed prefix's values
// before the inverse Hadamard transform), they are summed apart and mapped
// back once per query head.
//
// # Files
//
// model.go (Load, Config, architecture registry), arch.go (the architectures
// and their builder), gelu.go (GELU table, soft-capping), shape.go (ReadShape),
// weights.go (weight matrices), forward.go, attention.go, cache.go, rope.go,
// actround.go (activation rounding), matmul*.go and vecmath*.go (kernels),
// ggmlmath.go, exactmul.go, exactattn.go and sincosf.go (Exact mode),
// threads.go, sample.go (Sampler, Generate), perplexity.go, metrics.go
// (CompareLogits), bench.go.
//
// # Concurrency
//
// A Model is read-only after Load and may run several Forward calls at once on
// distinct caches.
//
// # Parity
//
// Every architecture matches llama.cpp on the seeded fixtures of
// internal/synth (arch_test.go, figures in testdata/archref from regen.sh).
// Exact mode's bit-for-bit claim is for llama and qwen2 with llama.cpp's
// reference build; the other architectures' extra operations (GELU table,
// Q/K and post norms, soft-capping) follow ggml's formulas but are not
// checked bit for bit. phi3's LongRoPE rotates with the short factors;
// Model.ForContext gives the long ones for a run longer than
// rope.scaling.original_context_length, as llama.cpp chooses for its -c.
package engine
