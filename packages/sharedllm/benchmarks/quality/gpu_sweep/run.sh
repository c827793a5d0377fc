#!/usr/bin/env bash
# The sweeps behind the quality bench's settings, as run on one H100 (2026-11-26): many small configs share
# the GPU, one process each. DATA is a finished bench folder (its tokens_*.npz); results land in OUT.
#   DATA=runs/sharedllm-quality bash packages/sharedllm/benchmarks/quality/gpu_sweep/run.sh /tmp/sweep
set -euo pipefail
here=$(dirname "$0"); out=${1:?usage: run.sh OUT_DIR}; mkdir -p "$out"
base() { python "$here/base.py" "$1" "$out" "$2" > "$out/$1.log" 2>&1 & }
# 1. when does the base start to copy inside its window? (p: share of blocks with a repeated span)
base A '{"p":0,"steps":3000}'
base B '{"p":0.5,"steps":3000}'
base C '{"p":0.5,"lr":0.004,"steps":3000}'
base D '{"p":1.0,"steps":3000}'
base B25 '{"p":0,"steps":2500,"every":500,"save":"'"$out"'/B25"}'
base B30 '{"p":0,"steps":3000,"every":500,"save":"'"$out"'/B30"}'
wait
# 2. the SharedLLM stage on those bases
for b in B25 B30; do
  for s in 's1 {"preset":"paper","lr":0.005}' 's2 {"preset":"cross_attention","lr":0.005}' \
           's3 {"preset":"paper","lr":0.002}' 's4 {"preset":"cross_attention","lr":0.01}' \
           'c2 {"preset":"paper","lr":0.002,"kv":32}' 'c3 {"preset":"paper","lr":0.002,"inj":3}' \
           'c4 {"preset":"paper","lr":0.002,"kv":32,"inj":3}' 'c5 {"preset":"cross_attention","lr":0.003,"kv":32,"inj":3}' \
           'c6 {"preset":"paper","lr":0.002,"kv":32,"steps":1500}' 'c7 {"preset":"paper","lr":0.002,"kv":32,"inj":3,"nch":16}' \
           'c8 {"preset":"all","lr":0.001,"kv":32}'; do
    n=${s%% *}
    python "$here/sharedllm_stage.py" "$b-$n" "$out/$b" "${s#* }" > "$out/$b-$n.log" 2>&1 &
  done
  wait
done
grep -h RESULT "$out"/*.log | sed 's/^RESULT //' > "$out/sharedllm-sweep.jsonl"
