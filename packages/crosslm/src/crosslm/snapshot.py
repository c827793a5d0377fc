"""A collection snapshot (a collector export or a `sharelm` dataset): read it, choose the task from what it
holds, and refuse early, with what to do, when it is too small to learn from.

`task = "auto"` picks the rating task when any conversation carries ratings (thumbs or per-response
ratings), otherwise the metadata field `task-field`; response mode always learns from ratings.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from crosslm.config import ConfigError, RunConfig
from crosslm.task import Example, Task, build_task, field_value, rating_label

if TYPE_CHECKING:
    from sharelm.schema import Conversation

IMPORT_HINT = (
    "a raw source file (a chat app's export, the public ShareLM CSV/JSON, ...) must be converted first: "
    "`sharelm import {path} --output snapshot.jsonl`, then data-path=snapshot.jsonl"
)


def load_snapshot(path: str | Path) -> list[Conversation]:
    """Every conversation of a collector export / `sharelm` dataset; a file that is not one says so."""
    from sharelm.export import load_conversations

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"run-config 'data-path': {path} does not exist")
    try:
        convs = list(load_conversations(path))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:  # a schema error is a ValueError
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"run-config 'data-path': {path} is not a ShareLM export ({first}); "
            + IMPORT_HINT.format(path=path)
        ) from None
    except FileNotFoundError as exc:
        raise ConfigError(f"run-config 'data-path': {exc}; " + IMPORT_HINT.format(path=path)) from None
    if not convs:
        raise ConfigError(f"run-config 'data-path': {path} holds no conversations")
    return convs


def has_ratings(convs: list[Conversation]) -> bool:
    return any(rating_label(c) is not None for c in convs)


def choose_task(cfg: RunConfig, convs: list[Conversation]) -> Task:
    """The task a classification run learns (response mode has its own, `crosslm.reward`)."""
    name = cfg.task
    if name == "auto":
        name = "rating" if has_ratings(convs) else "topic"
    task = build_task(name, cfg.task_field, cfg.label_list, cfg.prompt_template)
    if name == "topic" and not any(field_value(c, cfg.task_field) for c in convs):
        raise ConfigError(
            f"the snapshot {cfg.data_path} has no ratings (conversation_metadata.rate / message_ratings) "
            f"and no conversation has the field {cfg.task_field!r}; set 'task-field' to one it has "
            f"(extra keys found: {', '.join(_extra_keys(convs)) or 'none'}) or collect rated conversations"
        )
    return task


def _extra_keys(convs: list[Conversation]) -> list[str]:
    return sorted({k for c in convs for k in c.conversation_metadata.extra})


def check_labels(task: Task, examples: list[Example], cfg: RunConfig) -> None:
    """At least two labels and `min-per-label` examples of each, else an error saying what to do."""
    counts = Counter(ex.label for ex in examples)
    what = "rated answers" if task.name == "response" else "labelled examples"
    if len([y for y in task.labels if counts[y]]) < 2:
        found = ", ".join(f"{y}: {n}" for y, n in sorted(counts.items())) or "none"
        raise ConfigError(
            f"task {task.name!r} found {len(counts)} label(s) in {cfg.data_path} ({found}); needs >= 2. "
            + _advice(task)
        )
    few = {y: counts[y] for y in task.labels if counts[y] < cfg.min_per_label}
    if few:
        listed = ", ".join(f"{y!r}: {n}" for y, n in few.items())
        raise ConfigError(
            f"the snapshot has too few {what} for task {task.name!r}: {listed}, under run-config "
            f"'min-per-label' = {cfg.min_per_label}. " + _advice(task)
        )


def _advice(task: Task) -> str:
    if task.name in ("rating", "response"):
        return (
            "Collect more rated conversations (thumbs up and down, or per-response ratings), or lower "
            "'min-per-label'; without ratings use task=topic with a 'task-field' the snapshot has."
        )
    return "Check 'task-field' / 'task-labels', collect more conversations, or lower 'min-per-label'."


def check_silos(silos, cfg: RunConfig) -> None:
    """Every client's silo holds `min-per-silo` labelled examples (train + validation)."""
    for i, silo in enumerate(silos):
        n = len(silo.train) + len(silo.val)
        if n < cfg.min_per_silo:
            sizes = ", ".join(str(len(s.train) + len(s.val)) for s in silos)
            raise ConfigError(
                f"client {i}'s silo holds {n} labelled example(s) (silos: {sizes}), under run-config "
                f"'min-per-silo' = {cfg.min_per_silo}; use fewer clients, another 'partition-by' "
                f"(now {cfg.partition_by!r}), a smaller 'test-fraction', or collect more data"
            )
