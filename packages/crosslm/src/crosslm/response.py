"""Response mode's server side: the LLM answers the server's prompts, the clients' reward models score the
answers (only scores come back), the LLM is tuned on its own answers weighted by the aggregated scores
(best-of-n / rejection-sampling fine-tuning with the run's regularisers), and the answers the federation
agrees on join the pool the reward models learn from next round.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from crosslm.config import RunConfig
from crosslm.models.llm import FinetuneSettings, ServerLLM
from crosslm.reward import LABELS, LIKED, llm_prompt, rm_text
from crosslm.task import Example


def server_prompts(cfg: RunConfig, public: list[Example]) -> tuple[list[str], list[str]]:
    """(train, eval) prompts the server owns: `prompts-path` (one a line), else the user turns of the public
    share; every fifth is held out to compare the LLM's answers before and after."""
    if cfg.prompts_path:
        lines = Path(cfg.prompts_path).read_text().splitlines()
        prompts = list(dict.fromkeys(" ".join(p.split()) for p in lines if p.strip()))
    else:
        prompts = list(dict.fromkeys(ex.prompt for ex in public if ex.prompt))
    return [p for i, p in enumerate(prompts) if i % 5], [p for i, p in enumerate(prompts) if i % 5 == 0]


def answer(llm: ServerLLM, cfg: RunConfig, prompts: list[str], seed: int) -> list[str]:
    """One sampled answer per prompt."""
    templated = [llm_prompt(cfg.response_template, p) for p in prompts]
    return llm.sample(templated, cfg.max_new_tokens, cfg.temperature, cfg.top_k, seed=seed)


def generate_answers(llm: ServerLLM, cfg: RunConfig, prompts: list[str], rnd: int) -> list[tuple[str, str]]:
    """`answers-per-prompt` answers to each of `prompts-per-round` prompts drawn for this round."""
    rng = random.Random(cfg.seed * 31 + rnd)
    chosen = rng.sample(prompts, min(cfg.prompts_per_round, len(prompts)))
    asked = [p for p in chosen for _ in range(cfg.answers_per_prompt)]
    answers = answer(llm, cfg, asked, seed=cfg.seed * 7919 + rnd)
    return [(p, a) for p, a in zip(asked, answers, strict=True) if a]


def to_score(answers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What the clients score: (prompt || answer, "liked"); feedback = P(liked)."""
    return [(rm_text(p, a), LIKED) for p, a in answers]


def llm_weights(answers: list[tuple[str, str]], quality: list[float], cfg: RunConfig) -> list[float]:
    """Loss weight per answer: its quality where it is kept (over `threshold`, and with `best` the best of
    its prompt's answers), a push-down (`negative-weight`) under the threshold, else 0."""
    best: dict[str, int] = {}
    for i, (p, _) in enumerate(answers):
        if p not in best or quality[i] > quality[best[p]]:
            best[p] = i
    out = []
    for i, (p, _) in enumerate(answers):
        q = quality[i]
        if q < cfg.threshold:
            out.append(-cfg.negative_weight * (cfg.threshold - q))
        elif cfg.response_select == "threshold" or best[p] == i:
            out.append(q)
        else:
            out.append(0.0)
    return out


def agreed(
    answers: list[tuple[str, str]], quality: list[float], threshold: float, margin: float
) -> list[list]:
    """Pool items [prompt || answer, label, weight] for the answers the federation agrees on: liked at
    quality >= `threshold`, and as many disliked, the lowest-scored at <= threshold - margin. Balanced, so
    that a weak LLM's many poor answers do not teach the reward models that every answer is poor."""
    liked = [i for i, q in enumerate(quality) if q >= threshold]
    low = sorted((i for i, q in enumerate(quality) if q <= threshold - margin), key=quality.__getitem__)
    items = [[rm_text(*answers[i]), LABELS[1], quality[i]] for i in liked]
    return items + [[rm_text(*answers[i]), LABELS[0], 1.0 - quality[i]] for i in low[: len(liked)]]


def enhance_llm(
    llm: ServerLLM, cfg: RunConfig, answers: list[tuple[str, str]], quality: list[float], replay: list[str]
) -> dict:
    settings = FinetuneSettings.from_config(cfg)
    weights = llm_weights(answers, quality, cfg)
    prefixes = [llm_prompt(cfg.response_template, p) for p, _ in answers]
    samples = [(a, LIKED) for _, a in answers]
    return llm.finetune(None, samples, quality, settings, replay, prefixes=prefixes, weights=weights)


def write_answers(out: Path, name: str, prompts: list[str], answers: list[str]) -> None:
    """The LLM's answers to the held-out prompts (`answers-before.json` at the start, `-after` at the end)."""
    rows = [{"prompt": p, "answer": a} for p, a in zip(prompts, answers, strict=True)]
    (out / f"answers-{name}.json").write_text(json.dumps(rows, indent=1))
