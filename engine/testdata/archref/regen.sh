#!/usr/bin/env bash
# Regenerates llama.cpp's figures for the synthetic architecture fixtures
# (internal/synth), which engine/arch_test.go compares against. Run from
# anywhere, on a machine with ../shared beside the repository; it builds
# llama.cpp once per machine (../shared/tools/llama.cpp.sh, ~15 min on 2 cores).
#
#   engine/testdata/archref/regen.sh
#
# For every spec in F16 and Q8_0 (the files the tests regenerate byte for
# byte; each JSON records the sha256 it came from):
#   llama-perplexity -c 128 --chunks 16 on text/tinystories-sample.txt with
#   --kl-divergence-base, kept as PPL plus each scored position's argmax and
#   top-two logit gap.
# Long contexts: syn-qwen3.F16, syn-gemma3.F16 and syn-phi3.F16 (whose LongRoPE
# switches to the long factors beyond 4096) at -c 4096 and -c 8192, one chunk
# of text/wiki.test.raw.
# Q4_K_M: llama-quantize of each F16 file. CI cannot make these files (the
# project has no byte-identical K-quant quantizer), so this script records the
# engine's perplexity beside llama.cpp's (ours_ppl) and fails if they differ
# by more than 0.5%.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
shared=${NEXUSQUANT_TESTDATA:-$repo/../shared}
bin=$("$shared/tools/llama.cpp.sh")
threads=${THREADS:-$(nproc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$repo"
go build -o "$work/synthgen" ./internal/synth/synthgen
"$work/synthgen" write "$work" >/dev/null

ppl() { # model text ctx chunks json [extra synthgen flags] [--kld]
  local model=$1 text=$2 ctx=$3 chunks=$4 out=$5; shift 5
  local kld=() ref=()
  if [ "${1:-}" = --kld ]; then kld=(--kl-divergence-base "$work/logits"); ref=(-logits "$work/logits"); shift; fi
  "$bin/llama-perplexity" -m "$model" -f "$text" -c "$ctx" --chunks "$chunks" -t "$threads" "${kld[@]}" >"$work/log" 2>&1 ||
    { tail -20 "$work/log"; exit 1; }
  "$work/synthgen" ref -model "$model" -text "$text" -ctx "$ctx" -chunks "$chunks" -log "$work/log" "${ref[@]}" "$@" >"$out" ||
    { tail -20 "$work/log"; exit 1; }
  echo "$(basename "$out"): $(grep -o '"ppl":[0-9.]*' "$out") $(grep -o '"ours_ppl":[0-9.]*' "$out" || true)"
}

for f in "$work"/*.gguf; do
  name=$(basename "$f" .gguf)
  ppl "$f" "$shared/text/tinystories-sample.txt" 128 16 "$here/$name.json" --kld
done
for name in syn-qwen3 syn-gemma3 syn-phi3; do
  for ctx in 4096 8192; do
    ppl "$work/$name.F16.gguf" "$shared/text/wiki.test.raw" "$ctx" 1 "$here/$name.F16.c$ctx.json"
  done
done
for f in "$work"/*.F16.gguf; do
  name=$(basename "$f" .F16.gguf)
  "$bin/llama-quantize" "$f" "$work/$name.Q4_K_M.gguf" Q4_K_M >"$work/qlog" 2>&1 || { tail "$work/qlog"; exit 1; }
  ppl "$work/$name.Q4_K_M.gguf" "$shared/text/tinystories-sample.txt" 128 16 "$here/$name.Q4_K_M.json" -ours
  python3 - "$here/$name.Q4_K_M.json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
rel = abs(r["ours_ppl"] / r["ppl"] - 1)
print(f"  {r['file']}: ours {r['ours_ppl']:.4f}, llama.cpp {r['ppl']:.4f}, {100*rel:.3f}% apart")
sys.exit(0 if rel <= 0.005 else 1)
PY
done
