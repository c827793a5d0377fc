"""The server side of a round, independent of how messages travel: generate, aggregate, enhance, evaluate.

`crosslm.app.server_app` drives these over a Flower `Grid`; state is checkpointed after every round.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from crosslm import response
from crosslm.config import LLM_METHODS, RunConfig
from crosslm.data import server_shares
from crosslm.events import EventSink
from crosslm.models.llm import FinetuneSettings, ServerLLM
from crosslm.task import Example, Task


@dataclass
class ServerState:
    round: int = 0  # last completed round
    pool: list[list] = field(default_factory=list)  # [text, label, quality]: what clients learn from next
    history: list[dict] = field(default_factory=list)
    initial: dict = field(default_factory=dict)  # the LLM before any round
    label_counts: list[int] = field(default_factory=list)  # clients' examples per label, last round

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> ServerState:
        return cls(**json.loads(path.read_text()))


@dataclass
class ServerSide:
    cfg: RunConfig
    task: Task
    server_test: list[Example]
    general_eval: list[str]
    general_replay: list[str]
    llm: ServerLLM | None
    state: ServerState
    events: EventSink = field(default_factory=lambda: EventSink(""))
    # Response mode: the server's prompts (train, held-out eval) and this round's (prompt, answer) pairs.
    prompts: tuple[list[str], list[str]] = ([], [])
    answers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def out(self) -> Path:
        return Path(self.cfg.out_dir)

    @property
    def checkpoint_dir(self) -> Path:
        return self.out / "checkpoint"


def read_general_text(path: str) -> tuple[list[str], list[str]]:
    """(eval, replay) documents: every fifth line is held out for perplexity, the rest may be replayed."""
    if not path:
        return [], []
    lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    return [d for i, d in enumerate(lines) if i % 5 == 0], [d for i, d in enumerate(lines) if i % 5]


def setup(cfg: RunConfig, events: EventSink | None = None) -> ServerSide:
    """Task, server benchmark split, general text, the LLM; restored from the checkpoint on resume."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)  # the LLM's results then do not depend on the machine's core count
    shares = server_shares(cfg)
    task, server_test = shares.task, shares.server_test
    general_eval, general_replay = read_general_text(cfg.general_text)
    out = Path(cfg.out_dir)
    ckpt = out / "checkpoint"
    state = ServerState()
    resumed = cfg.resume and (ckpt / "state.json").exists()
    if resumed:
        state = ServerState.load(ckpt / "state.json")
    llm = None
    if cfg.method in LLM_METHODS:
        llm = ServerLLM(
            cfg.llm,
            lora=cfg.llm_lora,
            lora_r=cfg.lora_r,
            checkpoint=ckpt / "llm" if resumed and (ckpt / "llm").exists() else None,
        )
        if not cfg.response:
            llm.check_prompts(task)
    side = ServerSide(
        cfg, task, server_test, general_eval, general_replay, llm, state, events or EventSink("")
    )
    if cfg.response:
        side.prompts = response.server_prompts(cfg, shares.public)
        if not side.prompts[0]:
            raise ValueError(
                "response mode has no prompts to answer: set 'prompts-path' or a 'public-fraction' "
                "whose share holds user turns"
            )
    if not resumed:
        if out.exists() and not cfg.resume:  # a fresh run does not mix with an older one's files
            for name in ("checkpoint", "clients", "metrics", "llm"):
                shutil.rmtree(out / name, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        state.initial = evaluate_llm(side)
        if cfg.response and llm is not None:
            _write_eval_answers(side, "before")
    return side


def _write_eval_answers(side: ServerSide, name: str) -> None:
    """Answers to the held-out prompts, same sampling seed before and after: what a rater compares."""
    held_out = side.prompts[1]
    answers = response.answer(side.llm, side.cfg, held_out, seed=side.cfg.seed * 104_729 + 1)
    response.write_answers(side.out, name, held_out, answers)


def label_quotas(labels: list[str], counts: list[int], per_label: int) -> dict[str, int]:
    """Samples per label for a round: `per_label` on average, split in proportion to the examples clients
    hold of each label (add-one smoothed, at least 1 each), so the synthetic mix follows the silos' mix."""
    if not counts or sum(counts) == 0:
        return dict.fromkeys(labels, per_label)
    total = per_label * len(labels)
    smooth = [c + 1 for c in counts]
    return {y: max(1, round(total * c / sum(smooth))) for y, c in zip(labels, smooth, strict=True)}


def generate(side: ServerSide, rnd: int) -> list[tuple[str, str]]:
    cfg = side.cfg
    if side.llm is None:
        return []
    if cfg.response:  # the clients score (prompt || answer, "liked")
        side.answers = response.generate_answers(side.llm, cfg, side.prompts[0], rnd)
        return response.to_score(side.answers)
    counts = side.state.label_counts if cfg.label_quotas else []
    samples = side.llm.generate(
        side.task,
        label_quotas(side.task.labels, counts, cfg.samples_per_label),
        cfg.max_new_tokens,
        cfg.temperature,
        cfg.top_k,
        seed=cfg.seed * 7919 + rnd,
    )
    return [(t, y) for t, y in samples if t]


def aggregate(
    feedback: list[list[float]],
    counts: list[int],
    mode: str = "count-weighted",
    label_counts: list[list[int]] | None = None,
    intended: list[int] | None = None,
) -> list[float]:
    """Per-sample quality from the clients' feedback ([client][sample]).

    "count-weighted": each client by its example count. "label-weighted": each client by how well it can
    tell the sample's intended label y from the others, min(its examples of y, its examples of other
    labels): a client that never saw y cannot judge it, nor can one that saw nothing but y (its SLM calls
    everything y); where no client can, by example count. "median": the per-sample median, robust to one
    client's collapse.
    """
    f = torch.tensor(feedback, dtype=torch.float64)
    if mode == "median":
        return torch.quantile(f, 0.5, dim=0).tolist()  # the middle two averaged for an even count
    w = torch.tensor(counts, dtype=torch.float64).clamp_min(1e-12)[:, None].expand_as(f)
    if mode == "label-weighted" and label_counts is not None and intended is not None:
        lc = torch.tensor(label_counts, dtype=torch.float64)
        of_y = lc[:, intended]  # [client, sample]
        judge = torch.minimum(of_y, lc.sum(1, keepdim=True) - of_y)
        w = torch.where(judge.sum(0, keepdim=True) > 0, judge, w)
    return ((f * w).sum(0) / w.sum(0)).tolist()


def aggregate_per_label(
    probs: list[list[list[float]]],
    counts: list[int],
    mode: str = "label-weighted",
    label_counts: list[list[int]] | None = None,
    normalize: bool = False,
) -> list[list[float]]:
    """The federation's score of every label for every sample ([sample][label]) from the clients'
    per-label feedback ([client][sample][label]).

    "label-weighted": client c's vote on label y is weighted by min(its examples of y, its examples of
    other labels), so a client that never saw y, or saw nothing but y, has no say on y; a label no client
    can judge scores 0 (no sample is relabelled to it). "count-weighted": every label by example count.
    "median": per sample and label. `normalize`: each client's probabilities of a label are first divided
    by their mean over the samples (the prior its SLM puts on that label in this batch), then renormalised
    per sample.
    """
    p = torch.tensor(probs, dtype=torch.float64)  # [client, sample, label]
    if p.numel() == 0:
        return [[] for _ in range(p.shape[1])] if p.dim() > 1 else []
    if normalize:
        p = p / p.mean(1, keepdim=True).clamp_min(1e-9)
        p = p / p.sum(2, keepdim=True).clamp_min(1e-12)
    if mode == "median":
        return torch.quantile(p, 0.5, dim=0).tolist()
    w = torch.tensor(counts, dtype=torch.float64)[:, None].expand(p.shape[0], p.shape[2])
    if mode == "label-weighted" and label_counts is not None:
        lc = torch.tensor(label_counts, dtype=torch.float64)  # [client, label]
        w = torch.minimum(lc, lc.sum(1, keepdim=True) - lc)
    total = w.sum(0)  # [label]
    score = (p * w[:, None, :]).sum(0) / total.clamp_min(1e-12)
    return torch.where(total > 0, score, torch.zeros_like(score)).tolist()


def relabel(consensus: list[list[float]], labels: list[str], threshold: float, margin: float = 0.0):
    """Per sample: (consensus label, its score, kept): kept when the score reaches `threshold` and leads the
    runner-up label's by at least `margin`."""
    out = []
    for row in consensus:
        ranked = sorted(range(len(row)), key=lambda i: -row[i])
        best = row[ranked[0]]
        second = row[ranked[1]] if len(ranked) > 1 else 0.0
        out.append((labels[ranked[0]], best, best >= threshold and best - second >= margin))
    return out


def majority_vote(
    judged: list[tuple[str, float, bool]], intended: list[str], predicted: list[str]
) -> list[tuple[str, float, bool]]:
    """Per sample: (label, weight 1, kept) where at least two of three judges give it that label: the label
    it was written for, the LLM's label scorer, and the clients' consensus (a vote only where `relabel`
    kept it: past the threshold and margin)."""
    out = []
    for (y, _, agreed), yi, p in zip(judged, intended, predicted, strict=True):
        votes = Counter([yi, p] + ([y] if agreed else []))
        label, n = votes.most_common(1)[0]
        out.append((label, 1.0, n >= 2))
    return out


def enhance(
    side: ServerSide,
    samples: list[tuple[str, str]],
    quality: list[float] | None,
    consensus: list[list[float]] | None = None,
) -> dict:
    """Grow the clients' pool and (CrossLM) fine-tune the LLM on the feedback-weighted samples; with
    `consensus` (per-label feedback, [sample][label]) on the samples relabelled by it."""
    cfg = side.cfg
    stats: dict = {"generated": len(samples)}
    if cfg.method == "kd":  # data-free KD: every sample, unfiltered
        _extend_pool(side, [[t, y, 1.0] for t, y in samples])
        stats["accepted"] = len(samples)
    if cfg.method == "kd-filtered" and samples:  # the server's own judge: its label scorer, no clients
        pred = side.llm.predict_labels(side.task, [t for t, _ in samples], _progress(side, "kd filter"))
        kept = [[t, y, 1.0] for (t, y), p in zip(samples, pred, strict=True) if p == y]
        _extend_pool(side, kept)
        stats["accepted"] = len(kept)
    if cfg.method == "crosslm" and cfg.response and quality is not None and samples:
        return _enhance_response(side, stats, quality)
    if cfg.method == "crosslm" and consensus is not None and samples:
        return _enhance_relabelled(side, stats, samples, consensus)
    if cfg.method == "crosslm" and quality is not None and samples:
        pool_quality = quality
        if cfg.server_filter:  # the SLMs' pool also passes the server's own judge (kd-filtered's filter)
            pred = side.llm.predict_labels(side.task, [t for t, _ in samples], _progress(side, "LLM filter"))
            pool_quality = [q if p == y else 0.0 for q, (_, y), p in zip(quality, samples, pred, strict=True)]
        accepted = [[t, y, q] for (t, y), q in zip(samples, pool_quality, strict=True) if q >= cfg.threshold]
        _extend_pool(side, accepted)
        stats["accepted"] = len(accepted)
        stats["mean_quality"] = sum(quality) / len(quality)
        if not accepted:
            side.events.emit(
                "warning",
                message=f"no synthetic sample reached threshold {cfg.threshold} (mean feedback "
                f"{stats['mean_quality']:.3f}, best {max(quality):.3f}): nothing was learned this round; "
                "lower 'threshold' (chance is 1/labels) or train the SLMs longer",
            )
        settings = FinetuneSettings.from_config(cfg)
        # The LLM learns from the clients' judgement alone: where it disagrees with them is what it can learn.
        stats.update(side.llm.finetune(side.task, samples, quality, settings, side.general_replay))
    stats["pool"] = len(side.state.pool)
    return stats


def _enhance_relabelled(
    side: ServerSide, stats: dict, samples: list[tuple[str, str]], consensus: list[list[float]]
) -> dict:
    """Per-label feedback: each sample takes the federation's consensus label. Kept samples (with
    `server-filter`, those the LLM's scorer also gives that label) join the pool under it and the LLM learns
    them under it; a kept sample whose label changed is pushed down under its intended one
    (`negative-weight` x its score)."""
    cfg, labels = side.cfg, side.task.labels
    judged = relabel(consensus, labels, cfg.threshold, cfg.relabel_margin)
    if cfg.relabel_vote == "majority" or cfg.server_filter:
        pred = side.llm.predict_labels(side.task, [t for t, _ in samples], _progress(side, "LLM filter"))
    if cfg.relabel_vote == "majority":
        judged = majority_vote(judged, [y for _, y in samples], pred)
    keep = [kept for *_, kept in judged]
    if cfg.relabel_vote == "consensus" and cfg.server_filter:  # the LLM scorer must agree with the clients
        keep = [k and p == y for k, (y, *_), p in zip(keep, judged, pred, strict=True)]
    pairs = list(zip(samples, judged, keep, strict=True))
    accepted = _balanced([[t, y, q] for (t, _), (y, q, _), k in pairs if k], len(labels))
    _extend_pool(side, accepted)
    scores = [q for _, q, _ in judged]
    stats.update(
        accepted=len(accepted),
        relabelled=sum(k and y != intended for (_, intended), (y, *_), k in pairs),
        mean_quality=sum(scores) / len(scores),
    )
    if not accepted:
        side.events.emit(
            "warning",
            message=f"no synthetic sample's consensus label reached threshold {cfg.threshold} (mean "
            f"{stats['mean_quality']:.3f}, best {max(scores):.3f}): nothing was learned this round",
        )
    # The LLM learns the pool's samples under their consensus label and unlearns a relabelled one under the
    # label it wrote it for.
    s = FinetuneSettings.from_config(cfg)
    items = [((t, y), q) for t, y, q in accepted]
    if s.negative_weight > 0:
        items += [((t, yi), -s.negative_weight * q) for (t, yi), (y, q, _), k in pairs if k and y != yi]
    stats.update(
        side.llm.finetune(
            side.task, [it for it, _ in items], [], s, side.general_replay, weights=[w for _, w in items]
        )
    )
    stats["pool"] = len(side.state.pool)
    return stats


def _balanced(accepted: list[list], num_labels: int) -> list[list]:
    """Relabelled samples pile onto the few topics the LLM writes well: each label's weight is scaled by
    min(1, mean count per label / its count), so no label outweighs an even share in the pool or the LLM's
    tuning (a label scorer tuned on a skewed set learns the skew)."""
    counts = Counter(y for _, y, _ in accepted)
    even = len(accepted) / max(1, num_labels)
    return [[t, y, q * min(1.0, even / counts[y])] for t, y, q in accepted]


def _enhance_response(side: ServerSide, stats: dict, quality: list[float]) -> dict:
    """The reward models' pool grows by the answers the federation agrees on; the LLM learns from its
    best-scored answers."""
    cfg = side.cfg
    agreed = response.agreed(side.answers, quality, cfg.threshold, cfg.agree_margin)
    _extend_pool(side, agreed)
    stats["accepted"] = sum(label == "liked" for _, label, _ in agreed)
    stats["agreed_disliked"] = len(agreed) - stats["accepted"]
    stats["mean_quality"] = sum(quality) / len(quality)
    stats.update(response.enhance_llm(side.llm, cfg, side.answers, quality, side.general_replay))
    if not stats["llm_train_samples"]:
        side.events.emit(
            "warning",
            message=f"no answer reached threshold {cfg.threshold} (mean score {stats['mean_quality']:.3f}, "
            f"best {max(quality):.3f}): the LLM learned nothing this round; lower 'threshold'",
        )
    stats["pool"] = len(side.state.pool)
    return stats


def _extend_pool(side: ServerSide, items: list[list]) -> None:
    seen = {(t, y) for t, y, _ in side.state.pool}
    side.state.pool.extend(it for it in items if (it[0], it[1]) not in seen)
    side.state.pool = side.state.pool[-side.cfg.pool_size :]  # the newest: the LLM improves every round


def evaluate_llm(side: ServerSide) -> dict:
    if side.llm is None:
        return {}
    if side.cfg.response:  # no label scorer: the answers are judged by the clients (and a rater)
        return {"llm_general_ppl": side.llm.perplexity(side.general_eval)}
    texts, labels = [ex.text for ex in side.server_test], [ex.label for ex in side.server_test]
    return {
        "llm_task_accuracy": side.llm.task_accuracy(side.task, texts, labels, _progress(side, "LLM eval")),
        "llm_general_ppl": side.llm.perplexity(side.general_eval),
    }


def _progress(side: ServerSide, what: str):
    """A `progress(done, total)` callback that emits "progress" events."""
    return lambda done, total: side.events.emit("progress", what=what, done=done, total=total)


def checkpoint(side: ServerSide, record: dict) -> None:
    """Write this round's metrics and a complete checkpoint, replacing the previous one atomically."""
    side.state.round = record["round"]
    side.state.history.append(record)
    metrics_dir = side.out / "metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    (metrics_dir / f"round-{record['round']:03d}.json").write_text(json.dumps(record, indent=1))
    tmp = side.out / "checkpoint.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if side.llm is not None:
        side.llm.save(tmp / "llm")
    side.state.save(tmp / "state.json")
    old = side.out / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if side.checkpoint_dir.exists():
        side.checkpoint_dir.rename(old)
    tmp.rename(side.checkpoint_dir)
    shutil.rmtree(old, ignore_errors=True)


def finish(side: ServerSide) -> dict:
    """Final artefacts: metrics.json (every round), the LLM (adapter), the report."""
    from crosslm.report import write_report

    summary = {
        "method": side.cfg.method,
        "config": side.cfg.to_mapping(),
        "initial": side.state.initial,
        "rounds": side.state.history,
        "finished_at": time.time(),
    }
    (side.out / "metrics.json").write_text(json.dumps(summary, indent=1))
    if side.llm is not None:
        side.llm.save(side.out / "llm")
        if side.cfg.response:
            _write_eval_answers(side, "after")
    write_report(side.out)
    return summary


def mean(values: list[float]) -> float:
    vals = [v for v in values if v == v]
    return sum(vals) / len(vals) if vals else math.nan
