#!/usr/bin/env bash
# The chat service's default model (`make chat-default-model`), with the project's own pipeline:
# dialogs (ChatterBot English + ShareLM-schema conversations) -> `sharedllm train tokenizer` (byte-level
# BPE, 1024 tokens) -> `sharedllm train base` -> `sharedllm train chat` -> the final checkpoint copied into
# packages/sharedllm/src/sharedllm/chat_model/ (package data: served with no download).
# One torch thread: on a shared 2-core machine that is faster than two. About 10 minutes of CPU.
set -euo pipefail
BIN=${BIN:-.venv/bin}
R=${RUNS:-runs/chat-default}
HERE=packages/sharedllm/scripts/chat_default
DEST=packages/sharedllm/src/sharedllm/chat_model
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
rm -rf "$R/tok" "$R/base" "$R/chat"
$BIN/python packages/sharedllm/scripts/chat_dialogs.py --out "$R/dialogs.jsonl" \
  packages/collection/tests/fixtures/{lmsys,wildchat,oasst_messages,prism,sharegpt,openai,hh_rlhf}.jsonl
$BIN/sharedllm train tokenizer --data "$R/dialogs.jsonl" --kind sharelm --vocab-size 1024 --out "$R/tok"
$BIN/sharedllm train base --tokenizer "$R/tok" --out "$R/base" --config "$HERE/base.toml"
$BIN/sharedllm train chat "$R/base/final" --out "$R/chat" --config "$HERE/chat.toml"
for f in config.json generation_config.json model.safetensors sharedllm_auto.py tokenizer.json \
  tokenizer_config.json chat_template.jinja; do
  if [ -f "$R/chat/final/$f" ]; then cp "$R/chat/final/$f" "$DEST/$f"; fi
done
du -b "$DEST"/model.safetensors
$BIN/python packages/sharedllm/scripts/chat_default_sample.py "$DEST"
