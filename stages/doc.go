// Package stages implements the NexusQuant KV-cache compression pipeline
// (SPEC §1–7) and the packed cache the model decodes from.
//
// # Stages
//
// Six stages run in order over a prefill cache (KV, keys with RoPE applied):
//
//	score     ComputeScores      one importance score per position (per layer/head)   score.go
//	evict     Evict              keep set: BOS, the last W, the best-scored rest      evict.go
//	rope      UndoRoPE           kept keys rotated back by their layer's own RoPE    rope.go
//	hadamard  Hadamard.Forward   padded Walsh–Hadamard rotation of keys and values   hadamard.go
//	quantize  Quantizer.Encode   E8 / relaxed / scalar codes + a float16 scale/row  quantize.go, lattice.go
//	entropy   (this package)     delta rows, zstd per block, positions, scales       entropy.go, positions.go
//
// Pipeline (pipeline.go) chains them with Settings (settings.go), keeping a
// few recent outputs of each stage under the settings they depend on
// (memo.go), so a change re-runs only from the first stage whose inputs
// changed (FirstChangedStage) and a recent setting re-runs nothing. Each
// stage's Pipeline step (runScore … runEntropy) lives in the stage's file.
// Run returns the Compressed cache and a Report (report.go) with per-stage
// bytes, error and time, the three ratios of SPEC §7 and per-(layer, head)
// figures; RunWith also reports each stage as it is done.
//
// # Layer types
//
// KV.Attn describes each layer (layers.go): full attention, a sliding window,
// no RoPE, QK-norm. A sliding-window layer's float16 cache holds only its
// last Window positions, so the baseline counts those; the pipeline drops
// the older rows (no later query sees them) and either evicts and quantizes
// the window like any layer's rows (sliding_layers compress) or stores it as
// float16 untouched (float16). Keep lists follow the layers' spans
// (listLayout): with granularity global, one per distinct span. The rope
// stage rotates each layer with its own function (RoPEFunc takes the layer)
// and skips no-RoPE layers. The Report names each layer's type with its
// bytes and error (Layers) and sums them by type (Kinds). A model whose
// layers are all plain is compressed, and its file written, exactly as
// before layer types existed.
//
// # The packed cache
//
// Compressed (compressed.go) stores, per (layer, K/V, KV head), the kept rows
// as frames of block_tokens rows, each with a scale frame, all held as
// stored; ReadBlock decodes one read block of R rows of a frame (zstd →
// un-delta → dequantize → inverse Hadamard → RoPE at the original positions)
// into a caller-owned Block, so the float form of a whole layer never exists
// and the decode buffers stay a few percent of the stored bytes (R is chosen
// per cache for that; see ReadBlockRows). A cache the model decodes from
// builds its decode form once (PrepareDecode, decodeform.go): every frame
// decompressed and un-delta'd, the codes kept as nibbles (or int8), the
// scales and positions decoded — about a tenth of the float16 baseline at 2
// bits, counted in ResidentBytes — so a decode step reads no zstd; the
// floats are the same bit for bit. ReadBlocks reads a run of read blocks in
// one call (engine.BlockRunReader); ReadBlocksRotatedV leaves the values in
// the Hadamard basis for attention to transform once per sum (UnrotateV,
// engine.RotatedVReader).
// The .nqkv byte layout (format.go) writes and reads it; readers validate
// every field and return errors, never panic, on corrupt input. Other storage
// methods (llama.cpp q8_0/q4_0, KIVI) plug in as a RowCodec.
//
// # Conventions
//
//   - Rows are row-major float32, n rows of HeadDim (or of the padded code
//     width DPad inside the pipeline); positions are int32, strictly increasing.
//   - Groups are indexed g = (layer·2 + kv)·KVHeads + head with kv 0 = K, 1 = V;
//     keep lists are 1 (granularity global), Layers (layer) or Layers·KVHeads
//     (head, layer-major).
//   - Destination first; the caller allocates unless a doc comment says
//     otherwise; functions that take slices do not keep them unless they say
//     so.
//   - Input (settings, caches, files) never causes a panic: errors name the
//     field and the bad value. Panics are reserved for programmer errors such
//     as wrong slice lengths between this package's own functions.
//   - Work is parallel over (layer, KV head) on GOMAXPROCS goroutines and
//     cancellable between tasks; results do not depend on the worker count.
//   - zstd encoders (one per level) and the decoder are process-wide and
//     reused; their memory is not counted in Compressed.ResidentBytes.
package stages
