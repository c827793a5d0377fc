#!/usr/bin/env bash
# Retrieval from far back (make bench-sharedllm-retrieval): continual training of SharedLLM with synthetic
# retrieval examples mixed in (query-aware policy; the query is the question), then `sharedllm eval
# retrieval` at 4K-32K, depths 0-1, text and code, for the query-aware and right policies, the truncated base
# and full attention (YaRN) where it fits. The base is the chat default model's (make chat-default-model).
# POLICY=right trains the same recipe with the right policy (the control for the paper's claim).
set -euo pipefail
BIN=${BIN:-.venv/bin}
BASE=${BASE:-runs/chat-default/base/final}
POLICY=${POLICY:-query}
R=${RUNS:-runs/sharedllm-retrieval}
OUT=${OUT:-packages/sharedllm/benchmarks/retrieval/results-$POLICY}
HERE=packages/sharedllm/benchmarks/retrieval
TRIALS=${TRIALS:-4}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$R"
$BIN/python - "$R/dialogs.txt" <<'PY'
import sys
from sharedllm.cli_common import read_documents
texts = read_documents("runs/chat-default/dialogs.jsonl", "sharelm", "text", "*", None)[0]
open(sys.argv[1], "w").write("\n".join(texts))
PY
start=$(date +%s)
$BIN/sharedllm train lm "$BASE" --out "$R/sllm-$POLICY" --config "$HERE/lm.toml" --set selection_policy=$POLICY
$BIN/sharedllm eval retrieval "$R/sllm-$POLICY/final" --base "$BASE" --lengths 4K,8K,16K,32K \
  --depths 0,0.25,0.5,0.75,1 --trials "$TRIALS" --out "$OUT"
cp "$R/sllm-$POLICY/loss_curve.png" "$OUT/loss_curve.png"
echo "retrieval bench ($POLICY): $(( $(date +%s) - start )) s"
