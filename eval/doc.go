// Package eval connects the engine and the compression pipeline (SPEC §8):
// prefill a prefix, hand its KV cache and attention statistics to
// stages.Pipeline, continue the model from the packed cache it produces, and
// compare the continuation's logits with an uncompressed baseline.
//
// An Explorer holds the expensive, settings-independent part — the tokenized
// windows, each window's prefix cache, attention statistics and baseline
// logits — so a settings change re-runs only the pipeline stages it affects
// and the continuation pass.
//
// A Runner runs this work as jobs off the caller's goroutine — Load (open
// the model, Prepare the windows) and Submit (a settings run) — and reports
// typed Events on one channel: prefill progress, each stage, the pipeline
// report before the continuation, continuation progress with the running
// NLL, the final figures. The newest job wins. The eval and sweep commands
// and the explorer UI share it, and Prepare, the setup before it.
//
// The compressed prefix is only ever read block by block (Overlay): the float
// form of a whole layer's prefix never exists while decoding from it.
//
// The prefix cache goes to the pipeline with each layer's type (LayerAttn:
// sliding window, RoPE, QK-norm, from engine.Config.Layer) and the model's
// per-layer rotation (engine.Model.RoPERows), so sliding-window layers are
// compressed as the window their cache holds and the capacity view stops
// them at it (Capacity, Shape.CacheTokens).
package eval
