#!/usr/bin/env bash
# Retrieval from far back (bash packages/sharedllm/benchmarks/retrieval/run.sh), offline and from scratch.
#   STAGE=base (the default): dialogs (ChatterBot English + the collection's fixtures) -> a 1024-token
#     byte-level BPE -> a 4-layer base trained in seven curriculum stages (base-*.toml, each from the previous
#     one: repeated patterns, repeated spans, then in-window passkey prompts) -> the in-window check
#     (`sharedllm eval passkey --method truncated` on 120-token prompts) -> needle_coverage.py (how much of
#     the key the context tree keeps at compression 2 and 1.33, per policy). A stage already trained is kept.
#   STAGE=lm, then STAGE=eval: SharedLLM continual training with synthetic retrieval examples mixed in, in
#     stages of growing context (lm-1-short.toml: 1-4 chunks, lm-2-long / lm-3-long: 1-64; cross-attention
#     only; query-aware policy, the query is the question), then `sharedllm eval retrieval` at 120-32K
#     tokens, depths 0-1, text and code, SharedLLM query-aware and right, truncated base, full attention
#     (YaRN) up to 8K.
set -euo pipefail
BIN=${BIN:-.venv/bin}
R=${RUNS:-runs/sharedllm-retrieval}
HERE=packages/sharedllm/benchmarks/retrieval
OUT=${OUT:-$HERE/results}
TRIALS=${TRIALS:-5}
STAGE=${STAGE:-base}
LM_STAGES=${LM_STAGES:-1-short 2-long 3-long}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$R" "$OUT"
if [ "$STAGE" = base ]; then
  $BIN/python packages/sharedllm/scripts/chat_dialogs.py --out "$R/dialogs.jsonl" \
    packages/collection/tests/fixtures/{lmsys,wildchat,oasst_messages,prism,sharegpt,openai,hh_rlhf}.jsonl
  [ -f "$R/tok/tokenizer.json" ] ||
    $BIN/sharedllm train tokenizer --data "$R/dialogs.jsonl" --kind sharelm --vocab-size 1024 --out "$R/tok"
  # Each stage trains the previous one further; a stage whose final checkpoint exists is kept (resumable).
  prev=""
  for stage in 1-patterns 2-spans 3-passkey 4-passkey 5-passkey 6-passkey 7-passkey; do
    [ -f "$R/base-$stage/final/config.json" ] ||
      $BIN/sharedllm train base --tokenizer "$R/tok" --out "$R/base-$stage" --config "$HERE/base-$stage.toml" \
        ${prev:+--set init=$prev}
    prev=$R/base-$stage/final
    cp "$R/base-$stage/loss_curve.png" "$OUT/loss_curve-base-$stage.png"
  done
  rm -rf "$R/base" && cp -r "$R/base-$stage" "$R/base"
  for template in text python; do
    $BIN/sharedllm eval passkey "$R/base/final" --method truncated --template $template --lengths 120 \
      --depths 0,0.5,1 --trials 20 --out "$OUT/in-window-$template"
  done
  for tree in "tree_height=3 kv_per_node=8" "tree_height=2 kv_per_node=16"; do
    echo "chunk_size=64 $tree"
    $BIN/python "$HERE/needle_coverage.py" "$R/base/final" --set chunk_size=64 --set upper_window=128 \
      $(printf -- '--set %s ' $tree) --lengths 4096,16384 --trials 40
  done | tee "$OUT/needle_coverage.txt"
fi
if [ "$STAGE" = lm ]; then
  $BIN/python - "$R/dialogs.jsonl" "$R/dialogs.txt" <<'PY'
import sys
from sharedllm.cli_common import read_documents
texts = read_documents(sys.argv[1], "sharelm", "text", "*", None)[0]
open(sys.argv[2], "w").write("\n".join(texts))
PY
  # The SharedLLM stages (lm-*.toml), each continuing the previous one; one already trained is kept.
  prev=$R/base/final
  for stage in $LM_STAGES; do
    [ -f "$R/sllm-$stage/final/config.json" ] ||
      $BIN/sharedllm train lm "$prev" --out "$R/sllm-$stage" --config "$HERE/lm-$stage.toml"
    prev=$R/sllm-$stage/final
    cp "$R/sllm-$stage/loss_curve.png" "$OUT/loss_curve-sharedllm-$stage.png"
  done
  rm -rf "$R/sllm" && cp -r "$R/sllm-$stage" "$R/sllm"
fi
if [ "$STAGE" = eval ]; then
  $BIN/sharedllm eval retrieval "$R/sllm/final" --base "$R/base/final" --lengths 120,4K,8K,16K,32K \
    --depths 0,0.25,0.5,0.75,1 --trials "$TRIALS" --full-max-len 8192 --out "$OUT"
  $BIN/python "$HERE/answer_tokens.py" "$R/sllm/final" | tee "$OUT/answer_tokens.txt"
fi
