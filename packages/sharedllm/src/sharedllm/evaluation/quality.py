"""The measured gain, end to end and offline: tokenizer -> base model from scratch -> SharedLLM -> perplexity.

Mirrors the paper's CodeParrot column with the Python sources installed on the machine: a small Llama is
pretrained from scratch on a window of `window` tokens, SharedLLM is continually trained from it, and both
are evaluated on documents from held-out packages at 4K, 8K and 16K tokens. Each stage writes into `out`
and is skipped when its output is already there (delete the folder, or pass fresh=True, to start over).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from sharedllm.data.corpus import python_source_corpus
from sharedllm.data.tokenized import load_token_docs, save_token_docs, tokenize_documents
from sharedllm.evaluation.perplexity import (
    PplSetup,
    evaluate_perplexity,
    paired_gain,
    plot_ppl,
    ppl_table,
    rows_to_json,
    window_use,
)
from sharedllm.training.base import BaseShape, PackedBlocks, build_base_model, collate_blocks
from sharedllm.training.loop import TrainConfig, train

# Full attention only with RoPE scaled (linear / dynamic NTK / YaRN): unscaled it extrapolates, a strawman.
METHODS = (
    "truncated", "sinks", "full-linear", "full-dynamic", "full-yarn", "sharedllm-none", "sharedllm-other",
    "sharedllm",
)  # fmt: skip


@dataclass
class QualityConfig:
    out: Path
    corpus_root: Path | None = None  # None: this interpreter's site-packages
    heldout_fraction: float = 0.1
    train_chars: int = 20_000_000
    tokenizer_chars: int = 8_000_000
    vocab_size: int = 4096
    base: BaseShape = field(default_factory=lambda: BaseShape(128, 4, 4, 352, 512))
    base_steps: int = 3000  # ~12 M tokens: in-window copying appears after ~1,500 steps; 2,500 was too few
    base_batch: int = 8
    base_lr: float = 2e-3
    base_betas: tuple[float, ...] = (0.9, 0.999)  # AdamW
    injection_layers: int = 3
    chunk_size: int = 256
    kv_per_node: int = 32
    n_chunks: int = 8
    upper_len: int = 512
    # Cross-attention only: the upper model stays the base, so SharedLLM with no context IS the base and
    # any gain is read from the context (the paper's preset also trains the top layer: a generic gain).
    preset: str = "cross_attention"
    selection_policy: str = "right"  # the paper's language-modelling policy
    split_noise_sigma: float = 0.2  # l/5, the paper's language-modelling noise
    shared_steps: int = 600
    shared_batch: int = 4
    shared_lr: float = 2e-3  # 5e-3 let the top layers drift: worse than the base without context
    shared_betas: tuple[float, ...] = (0.9, 0.95)
    lengths: tuple[int, ...] = (4096, 8192, 16384)
    score_len: int = 256
    eval_docs: int = 40
    full_max_len: int = 8192  # full attention at 16K costs more than every other method together on a CPU
    passkey_lengths: tuple[int, ...] = (1024, 4096)
    passkey_depths: tuple[float, ...] = (0.0, 0.5, 1.0)
    passkey_trials: int = 4
    seed: int = 0
    threads: int | None = None  # torch threads; 1 is fastest on a machine shared with other jobs

    def base_train_config(self, output_dir: Path) -> TrainConfig:
        """The base stage's training loop settings (also what the GPU sweep's base runs use)."""
        return TrainConfig(
            output_dir=output_dir,
            max_steps=self.base_steps,
            batch_size=self.base_batch,
            lr=self.base_lr,
            warmup_ratio=0.02,
            betas=tuple(self.base_betas),
            save_every=max(self.base_steps // 4, 1),
            seed=self.seed,
        )

    def shared_train_config(self, output_dir: Path) -> TrainConfig:
        """The SharedLLM stage's training loop settings."""
        return TrainConfig(
            output_dir=output_dir,
            max_steps=self.shared_steps,
            batch_size=self.shared_batch,
            lr=self.shared_lr,
            warmup_ratio=0.05,
            betas=tuple(self.shared_betas),
            save_every=max(self.shared_steps // 4, 1),
            seed=self.seed,
        )

    def build_sharedllm(self, base_dir: Path):
        """The SharedLLM stage's model around a saved base, with its trainable preset applied."""
        from sharedllm import SharedLLMForCausalLM, apply_trainable_preset

        model = SharedLLMForCausalLM.from_base(
            str(base_dir),
            num_injection_layers=self.injection_layers,
            chunk_size=self.chunk_size,
            kv_per_node=self.kv_per_node,
            upper_window=self.upper_len,
            selection_policy=self.selection_policy,
            split_noise_sigma=self.split_noise_sigma,
        )
        return model, apply_trainable_preset(model, self.preset)

    def sharedllm_examples(self, train_docs):
        from sharedllm.data.datasets import lm_examples

        return lm_examples(train_docs, self.n_chunks, self.chunk_size, self.upper_len, seed=self.seed)

    @classmethod
    def smoke(cls, out: Path, corpus_root: Path | None = None) -> QualityConfig:
        """Seconds on a CPU: every stage runs for real, at toy sizes (numbers mean nothing)."""
        return cls(
            out=out,
            corpus_root=corpus_root,
            train_chars=300_000,
            tokenizer_chars=200_000,
            vocab_size=300,
            base=BaseShape(32, 2, 2, 64, 64),
            base_steps=3,
            base_batch=2,
            injection_layers=1,
            chunk_size=32,
            kv_per_node=4,
            n_chunks=2,
            upper_len=64,
            shared_steps=2,
            shared_batch=2,
            lengths=(128, 256),
            score_len=16,
            eval_docs=3,
            full_max_len=256,
        )


def _stage(out: Path, name: str, done: Callable[[], bool], work: Callable[[], None], log) -> None:
    """Run a stage unless its output exists; remember how long it took (also across reruns)."""
    timing = out / f"timing-{name}.json"
    if done():
        log(f"[{name}] cached")
        return
    t0 = time.perf_counter()
    work()
    timing.write_text(json.dumps({"stage": name, "seconds": time.perf_counter() - t0}))
    log(f"[{name}] {time.perf_counter() - t0:.0f} s")


def package_of(doc_name: str) -> str:
    """'matplotlib/axes#2' -> 'matplotlib' (document names are directories, '#i' numbers the parts of one)."""
    return doc_name.split("/")[0].split("#")[0]


def pick_eval_docs(docs: list[np.ndarray], names: list[str], min_len: int, k: int) -> tuple[list, list[str]]:
    """Long enough held-out documents, taken round robin over packages so that no package dominates."""
    by_pkg: dict[str, list[int]] = {}
    for i, (d, n) in enumerate(zip(docs, names, strict=True)):
        if len(d) >= min_len:
            by_pkg.setdefault(package_of(n), []).append(i)
    picked: list[int] = []
    while len(picked) < k and any(by_pkg.values()):
        for pkg in sorted(by_pkg):
            if by_pkg[pkg] and len(picked) < k:
                picked.append(by_pkg[pkg].pop(0))
    return [docs[i] for i in picked], [names[i] for i in picked]


def window_use_note(use: dict[int, float], min_gain: float = 0.05) -> str:
    """One line on how much the base gains from its own window, and a warning when it gains almost nothing:
    a base that does not copy within its window gives SharedLLM nothing to learn from far context either."""
    short, full = min(use), max(use)
    gain = 1 - use[full] / use[short]
    note = (
        f"Base model's use of its own window: perplexity {use[short]:.3f} with {short} tokens before the "
        f"scored text, {use[full]:.3f} with {full} ({gain:.1%} better)."
    )
    if gain < min_gain:
        note += (
            " WARNING: the base barely uses its window, so an own-context gain cannot be expected; train it "
            "longer (base_steps) before reading the SharedLLM rows."
        )
    return note


def gains_table(gains: list[dict]) -> str:
    lines = [
        "| method | vs | length | ppl ratio | 95% interval, clustered by package | documents won |",
        "|---|---|---:|---:|---|---:|",
    ]
    for g in gains:
        lo, hi = g["ratio_ci95"]
        lines.append(
            f"| {g['method']} | {g['against']} | {g['length'] // 1024}K | {g['ppl_ratio']:.4f} | "
            f"{lo:.4f} – {hi:.4f} ({g.get('clusters', g['docs'])} clusters) | {g['docs_won']}/{g['docs']} |"
        )
    return "\n".join(lines)


def run_passkey(cfg: QualityConfig, shared, base, tok, out: Path) -> dict:
    """Passkey retrieval in code (PASS_KEY = ... hidden in filler lines), SharedLLM vs the truncated base."""
    from sharedllm.evaluation.passkey import PasskeyTemplate, passkey_accuracy, plot_passkey

    grids = {}
    for method, model in (("sharedllm", shared), ("truncated", base)):
        grid = passkey_accuracy(
            model,
            tok,
            method,
            cfg.passkey_lengths,
            cfg.passkey_depths,
            cfg.passkey_trials,
            cfg.upper_len,
            PasskeyTemplate.python(),
            seed=cfg.seed,
        )
        plot_passkey(
            grid,
            cfg.passkey_lengths,
            cfg.passkey_depths,
            out / f"passkey-{method}.png",
            f"passkey retrieval (code): {method}",
        )
        grids[method] = grid
    return {"lengths": list(cfg.passkey_lengths), "depths": list(cfg.passkey_depths), "accuracy": grids}


# Settings the cached stages (tokens, base, SharedLLM) were built with; evaluation settings may change freely.
TRAINING_FIELDS = (
    "corpus_root", "heldout_fraction", "train_chars", "tokenizer_chars", "vocab_size", "base", "base_steps",
    "base_batch", "base_lr", "base_betas", "injection_layers", "chunk_size", "kv_per_node", "n_chunks",
    "upper_len", "preset", "selection_policy", "split_noise_sigma", "shared_steps", "shared_batch",
    "shared_lr", "shared_betas", "seed",
)  # fmt: skip
# Those only the SharedLLM stage reads: free to change while that stage is not in `out` (an ablation on a
# cached base: copy the folder without sharedllm/ and pass --set preset=paper).
SHARED_FIELDS = TRAINING_FIELDS[TRAINING_FIELDS.index("injection_layers") : TRAINING_FIELDS.index("seed")]


def check_cached_settings(cfg: QualityConfig, out: Path) -> None:
    """Refuse to reuse stages cached in `out` under other training settings (silently stale results)."""
    settings = asdict(cfg)
    current = json.loads(json.dumps({k: settings[k] for k in TRAINING_FIELDS}, default=str))
    path = out / "training_settings.json"
    if not path.exists() and (out / "tokens_heldout.npz").exists():
        raise ValueError(
            f"{out} holds stages from an earlier version of this bench (no training_settings.json); "
            "pass --fresh to retrain there, or choose another --out"
        )
    if path.exists():
        cached = json.loads(path.read_text())
        changed = sorted(k for k in TRAINING_FIELDS if cached.get(k) != current[k])
        if not (out / "sharedllm").exists():
            changed = [k for k in changed if k not in SHARED_FIELDS]
        if changed:
            raise ValueError(
                f"{out} holds stages trained with other settings ({', '.join(changed)}); "
                "pass --fresh to retrain there, or choose another --out"
            )
    path.write_text(json.dumps(current, indent=1))


def run_quality(cfg: QualityConfig, log=print) -> dict:
    from transformers import AutoTokenizer, LlamaForCausalLM

    from sharedllm import SharedLLMForCausalLM
    from sharedllm.data.chunking import collate_chunked
    from sharedllm.data.tokenizer import train_bpe_tokenizer

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    check_cached_settings(cfg, out)
    tok_dir, base_dir, shared_dir = out / "tokenizer", out / "base", out / "sharedllm"
    corpus = None

    def build_tokens() -> None:
        nonlocal corpus
        corpus = python_source_corpus(cfg.corpus_root, cfg.heldout_fraction, cfg.train_chars, seed=cfg.seed)
        sample, size = [], 0
        for d in corpus.train:
            if size >= cfg.tokenizer_chars:
                break
            sample.append(d.text)
            size += len(d.text)
        tok = train_bpe_tokenizer(sample, cfg.vocab_size)
        tok.save_pretrained(tok_dir)
        for split, docs in (("train", corpus.train), ("heldout", corpus.heldout)):
            ids = tokenize_documents(tok, [d.text for d in docs], desc=f"tokenize {split}")
            save_token_docs(out / f"tokens_{split}.npz", ids, [d.name for d in docs])

    _stage(out, "tokenize", lambda: (out / "tokens_heldout.npz").exists(), build_tokens, log)
    tok = AutoTokenizer.from_pretrained(tok_dir)
    train_docs, _ = load_token_docs(out / "tokens_train.npz")
    heldout_docs, heldout_names = load_token_docs(out / "tokens_heldout.npz")

    def pretrain_base() -> None:
        model = build_base_model(
            len(tok), cfg.base, tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, cfg.seed
        )
        dataset = PackedBlocks(train_docs, cfg.base.window, tok.eos_token_id)
        log(
            f"base: {sum(p.numel() for p in model.parameters()):,} parameters, {len(dataset)} blocks of "
            f"{cfg.base.window} tokens"
        )
        res = train(
            model, dataset, collate_blocks, cfg.base_train_config(base_dir), description="base pretraining"
        )
        tok.save_pretrained(res.final_dir)

    _stage(out, "base", lambda: (base_dir / "final" / "config.json").exists(), pretrain_base, log)

    def train_sharedllm() -> None:
        model, n = cfg.build_sharedllm(base_dir / "final")
        dataset = cfg.sharedllm_examples(train_docs)
        log(
            f"sharedllm: {n:,} trainable parameters ({cfg.preset}), {len(dataset)} examples of up to "
            f"{cfg.n_chunks} x {cfg.chunk_size} + {cfg.upper_len} tokens"
        )
        pad = tok.pad_token_id
        tc = cfg.shared_train_config(shared_dir)
        res = train(model, dataset, lambda b: collate_chunked(b, pad), tc, description="SharedLLM training")
        tok.save_pretrained(res.final_dir)

    _stage(out, "sharedllm", lambda: (shared_dir / "final" / "config.json").exists(), train_sharedllm, log)

    eval_docs, eval_names = pick_eval_docs(heldout_docs, heldout_names, max(cfg.lengths), cfg.eval_docs)
    if len(eval_docs) < 2:
        raise ValueError(f"only {len(eval_docs)} held-out documents have {max(cfg.lengths)} tokens")
    setup = PplSetup(
        lengths=cfg.lengths,
        score_len=cfg.score_len,
        window=cfg.base.window,
        chunk_size=cfg.chunk_size,
        upper_len=cfg.upper_len,
        full_max_len=cfg.full_max_len,
    )
    base = LlamaForCausalLM.from_pretrained(base_dir / "final")
    shared = SharedLLMForCausalLM.from_pretrained(shared_dir / "final")
    t0 = time.perf_counter()
    rows = evaluate_perplexity(
        [torch.from_numpy(d.astype(np.int64)) for d in eval_docs],
        setup,
        METHODS,
        base=base,
        sharedllm=shared,
        groups=[package_of(n) for n in eval_names],
    )
    eval_s = time.perf_counter() - t0
    before = (8, cfg.base.window - cfg.score_len)
    scored = [torch.from_numpy(d[: max(cfg.lengths)].astype(np.int64)) for d in eval_docs]  # as evaluated
    use = window_use(base, scored, cfg.score_len, before)
    passkey = run_passkey(cfg, shared, base, tok, out)
    table = ppl_table(rows)
    pairs = [("sharedllm", a) for a in ("truncated", "sharedllm-other", "sharedllm-none")] + [
        ("sharedllm-other", "truncated"),  # the control: the gain must be the document's own
        ("sharedllm-none", "truncated"),
    ]
    gains = [
        g for n in cfg.lengths for m, a in pairs if (g := paired_gain(rows, m, a, n)) is not None
    ]
    table += "\n\n" + gains_table(gains)
    table += "\n\n" + window_use_note(use)
    plot_ppl(rows, out / "ppl.png", "held-out Python packages: perplexity of the last 256 tokens")
    timings = {
        p.stem.removeprefix("timing-"): json.loads(p.read_text())["seconds"]
        for p in out.glob("timing-*.json")
    }
    timings["eval"] = eval_s
    result = {
        "config": json.loads(json.dumps(asdict(replace(cfg)), default=str)),
        "eval_documents": eval_names,
        "rows": rows_to_json(rows),
        "table": table,
        "gains": gains,
        "base_window_use": {str(k): v for k, v in use.items()},
        "passkey": passkey,
        "timings_s": timings,
    }
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "table.md").write_text(table + "\n")
    log(table)
    return result
