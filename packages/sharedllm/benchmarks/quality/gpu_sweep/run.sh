#!/usr/bin/env bash
# The sweeps behind the quality bench's settings, as run on one H100 (2026-11-26): many small configs share
# the GPU, one process each. DATA is a finished bench folder (its tokens_*.npz); results land in OUT.
# Each run is the bench's own stage (QualityConfig + training.loop.train) with --set overrides.
#   DATA=runs/sharedllm-quality bash packages/sharedllm/benchmarks/quality/gpu_sweep/run.sh /tmp/sweep
set -euo pipefail
here=$(dirname "$0"); out=${1:?usage: run.sh OUT_DIR}; mkdir -p "$out"
base() { n=$1; shift; python "$here/base.py" "$n" "$out" "$@" > "$out/$n.log" 2>&1 & }
# 1. when does the base start to copy inside its window? (--repeat-share: blocks ending with a repeated span)
base A --set base_steps=3000
base B --set base_steps=3000 --repeat-share 0.5
base C --set base_steps=3000 --set base_lr=0.004 --repeat-share 0.5
base D --set base_steps=3000 --repeat-share 1.0
base B25 --set base_steps=2500 --every 500 --save "$out/B25"
base B30 --set base_steps=3000 --every 500 --save "$out/B30"
wait
# 2. the SharedLLM stage on those bases (the sweep's defaults: 2 injection layers, 16 KVs per node)
old="--set injection_layers=2 --set kv_per_node=16"
for b in B25 B30; do
  for s in "s1 --set preset=paper --set shared_lr=0.005" "s2 --set preset=cross_attention --set shared_lr=0.005" \
           "s3 --set preset=paper --set shared_lr=0.002" "s4 --set preset=cross_attention --set shared_lr=0.01" \
           "c2 --set preset=paper --set shared_lr=0.002 --set kv_per_node=32" \
           "c3 --set preset=paper --set shared_lr=0.002 --set injection_layers=3" \
           "c4 --set preset=paper --set shared_lr=0.002 --set kv_per_node=32 --set injection_layers=3" \
           "c5 --set preset=cross_attention --set shared_lr=0.003 --set kv_per_node=32 --set injection_layers=3" \
           "c6 --set preset=paper --set shared_lr=0.002 --set kv_per_node=32 --set shared_steps=1500" \
           "c7 --set preset=paper --set shared_lr=0.002 --set kv_per_node=32 --set injection_layers=3 --set n_chunks=16" \
           "c8 --set preset=all --set shared_lr=0.001 --set kv_per_node=32"; do
    n=${s%% *}
    # shellcheck disable=SC2086  # the settings are words
    python "$here/sharedllm_stage.py" "$b-$n" "$out/$b" $old ${s#* } > "$out/$b-$n.log" 2>&1 &
  done
  wait
done
grep -h RESULT "$out"/*.log | sed 's/^RESULT //' > "$out/sharedllm-sweep.jsonl"
