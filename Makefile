# `make test` and `make demo` bootstrap .venv themselves; every target is safe to rerun.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   := torch==2.13.0
# Install order matters only for readability: pip resolves the local packages together in one call.
PROJECTS := $(wildcard packages/collection packages/sharedllm packages/crosslm services/collector services/chat)
STAMP   := $(VENV)/.installed
PLUGIN  := services/plugin
comma   := ,

.PHONY: test lint pytest test-packages dist check-dist install demo bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel first: anything that depends on torch must find it already installed.
	$(BIN)/pip install -q --no-compile $(TORCH)

# Extras beyond [test] in .venv, and in a second fresh venv of `test-packages` (the package alone runs without them).
EXTRAS_packages/collection := fast

$(STAMP): $(BIN)/python requirements-dev.txt $(addsuffix /pyproject.toml,$(PROJECTS))
	# Siblings pinned to the version (not to their folders): the five editable installs then satisfy each other.
	SHARELM_PIN_SIBLINGS=1 $(BIN)/pip install -q --no-compile -r requirements-dev.txt \
	  $(foreach p,$(PROJECTS),-e "$(p)[test$(if $(EXTRAS_$(p)),$(comma)$(EXTRAS_$(p)))]")
	touch $@

install: $(STAMP) $(if $(wildcard $(PLUGIN)/package.json),$(PLUGIN)/node_modules/.installed)

$(PLUGIN)/node_modules/.installed: $(PLUGIN)/package.json $(wildcard $(PLUGIN)/package-lock.json)
	cd $(PLUGIN) && npm ci --no-audit --no-fund
	touch $@

lint: install
	$(BIN)/ruff check .

# The cross-package tests (tests/) and the plugin's, in .venv where every package is installed.
pytest: install
	$(BIN)/pytest

# Each Python package alone, as a new user installs it: a fresh venv under .venvs/, one `pip install "./X[test]"`
# (siblings come from this checkout), its own tests; then again with its EXTRAS_ (packages/collection with
# [fast]: the accelerated redaction's tests skip without it). Sequential: the machine has 2 cores.
test-packages:
	@for p in $(PROJECTS); do tools/packaging/test-alone.sh $$p || exit 1; done
	@$(foreach p,$(PROJECTS),$(if $(EXTRAS_$(p)),tools/packaging/test-alone.sh $(p) $(EXTRAS_$(p)) || exit 1;))

test: lint test-packages check-dist pytest

# Wheels and sdists of the five packages in dist/, as published to an index: siblings pinned to the one version.
dist: install
	rm -rf dist
	@for p in $(PROJECTS); do SHARELM_PIN_SIBLINGS=1 $(BIN)/python -m build -q --outdir dist $$p || exit 1; done

# The published case: the wheelhouse alone installs a package with its siblings, and no metadata names a path.
check-dist: dist
	tools/packaging/check-dist.sh dist

# The whole platform at small scale on embedded defaults; writes demo-report/. Rerunnable.
demo: install
	$(BIN)/python -m demo --out demo-report

clean:
	rm -rf $(VENV) .venvs dist $(PLUGIN)/node_modules

# SharedLLM efficiency on CPU (small model, 4K..64K tokens) vs the base with full attention and truncated to its
# window, memory with weights: table, JSON and PNG in packages/sharedllm/benchmarks/efficiency. On one GPU:
# $(BIN)/python packages/sharedllm/benchmarks/run_efficiency.py --device cuda --config 7b-shape --out packages/sharedllm/benchmarks/efficiency-gpu
.PHONY: bench-sharedllm
bench-sharedllm: install
	nice -n 10 $(BIN)/python packages/sharedllm/benchmarks/run_efficiency.py --config small --device cpu --threads 1 \
	  --out packages/sharedllm/benchmarks/efficiency $(BENCH_ARGS)

# SharedLLM quality on CPU, offline: tokenizer + base Llama from scratch on site-packages' Python sources, SharedLLM
# continually trained from it, perplexity on held-out packages at 4K/8K/16K. The seeds run side by side (one thread
# each) in runs/sharedllm-quality/seed<N> (table.md, PNGs), then their goal ratios in seeds.md / seeds.png.
# QUALITY_SEEDS=0 runs one seed on both cores. Stages are cached in those folders; BENCH_ARGS="--fresh" starts over.
QUALITY_SEEDS ?= 0 1
.PHONY: bench-sharedllm-quality
bench-sharedllm-quality: install
	mkdir -p runs/sharedllm-quality
	@echo "seeds $(QUALITY_SEEDS) side by side; progress: runs/sharedllm-quality-seed<N>.log"
	pids=""; for seed in $(QUALITY_SEEDS); do \
	  nice -n 10 $(BIN)/python packages/sharedllm/benchmarks/quality/run.py --out runs/sharedllm-quality/seed$$seed \
	    --threads $(if $(word 2,$(QUALITY_SEEDS)),1,2) --set seed=$$seed $(BENCH_ARGS) \
	    > runs/sharedllm-quality-seed$$seed.log 2>&1 & pids="$$pids $$!"; \
	done; for pid in $$pids; do wait $$pid || { tail -n 20 runs/sharedllm-quality-seed*.log; exit 1; }; done
	$(BIN)/python packages/sharedllm/benchmarks/quality/seeds.py runs/sharedllm-quality

# SharedLLM retrieval from far back on CPU, offline: base in seven curriculum stages, three SharedLLM stages of
# growing context with synthetic retrieval examples, then `sharedllm eval retrieval` (heat maps in packages/sharedllm/benchmarks/retrieval/results).
# Trained stages are kept in runs/sharedllm-retrieval (resumable); about 36 + 30 + 8 min (one thread per run, two runs side by side).
.PHONY: bench-sharedllm-retrieval
bench-sharedllm-retrieval: install
	for stage in base lm eval; do nice -n 10 env BIN=$(BIN) STAGE=$$stage bash packages/sharedllm/benchmarks/retrieval/run.sh || exit 1; done

# The chat service's default model: tokenizer, base and chat tuning with `sharedllm train` on the ChatterBot corpus
# + ShareLM-schema conversations, copied into packages/sharedllm/src/sharedllm/chat_model (package data, 5.6 MB).
.PHONY: chat-default-model
chat-default-model: install
	nice -n 10 env BIN=$(BIN) bash packages/sharedllm/scripts/chat_default_model.sh

# Chat service: time to first token over the turns of a growing chat (past 32K tokens), with the per-conversation
# ContextCache, without it, and the base model with full attention: table, JSON and PNG in services/chat/benchmarks.
# One torch thread: the CPU-time columns then measure all the work, unaffected by others sharing the machine.
.PHONY: bench-chat
bench-chat: install
	$(BIN)/pip install -q -r services/chat/benchmarks/requirements.txt
	nice -n 10 $(BIN)/python services/chat/benchmarks/run.py --out services/chat/benchmarks --repeats 3 --threads 1 $(BENCH_ARGS)

# Collector uploads side by side with the reference backend's design (Flask, gunicorn 2 sync workers) on one throwaway
# PostgreSQL 15, then ours on SQLite: unique 1 KB plugin uploads from wrk at 1/16/64 connections, 12 s each, servers
# and database pinned apart from wrk, every acknowledged upload checked in the database. results.md, results.json,
# throughput.png and py-spy profiles (16 clients) in services/collector/benchmarks. Needs wrk (apt-get install -y wrk).
.PHONY: bench-collector
bench-collector: install
	@command -v wrk >/dev/null || { echo "bench-collector needs wrk: apt-get install -y wrk" >&2; exit 1; }
	$(BIN)/pip install -q -r services/collector/benchmarks/requirements.txt
	nice -n 10 $(BIN)/python services/collector/benchmarks/run.py --out services/collector/benchmarks $(BENCH_ARGS)

# CrossLM: Standalone, FedAvg, data-free KD, LLM-filtered KD, CrossLM and a centralised bound over 5 seeds and
# 3 Dirichlet skews of the controlled world (real Flower-on-Ray runs), then time per round at 10 and 100
# clients: packages/crosslm/benchmarks/results (about an hour on 2 cores). BENCH_ARGS="--seeds 0,1" for less.
.PHONY: bench-crosslm
bench-crosslm: install
	OMP_NUM_THREADS=1 nice -n 10 $(BIN)/python packages/crosslm/benchmarks/run.py all \
	  --out packages/crosslm/benchmarks/results $(BENCH_ARGS)

# ShareLM collection: build throughput and peak memory on 100k and 1M generated 1 KB conversations, redaction
# speed and per-type PII precision/recall next to Presidio and `anonymization`: packages/collection/benchmarks.
# The harness lives in packages/collection/benchmarks (not in the installed package), with its own requirements.
.PHONY: bench-collection
bench-collection: install
	$(BIN)/pip install -q -r packages/collection/benchmarks/requirements.txt
	nice -n 10 $(BIN)/python packages/collection/benchmarks/run.py --sizes 100000,1000000 --out packages/collection/benchmarks $(BENCH_ARGS)
