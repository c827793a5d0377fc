"""Client silos from a ShareLM collection export: examples, a server benchmark split, partitions.

Every process (server or any client) derives the same split from the same run config and seed, so a
client only ever materialises its own silo; nothing here sends data anywhere.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

from crosslm.config import ConfigError, RunConfig
from crosslm.task import Example, Task, build_task, hf_examples


@dataclass
class Silo:
    train: list[Example]
    test: list[Example]


@dataclass
class Federation:
    task: Task
    server_test: list[Example]
    silos: list[Silo]


def load_task_examples(cfg: RunConfig) -> tuple[Task, list[Example]]:
    """The task and all its labelled examples from `cfg.data_path`."""
    task = build_task(cfg.task, cfg.task_field, cfg.label_list, cfg.prompt_template)
    group_by = None if cfg.partition_by == "dirichlet" else cfg.partition_by
    if cfg.task == "hf":
        examples, task.labels = hf_examples(
            _load_hf(cfg.data_path), cfg.hf_text_column, cfg.hf_label_column, cfg.label_list
        )
    else:
        from sharelm.export import load_conversations

        path = Path(cfg.data_path)
        if not path.exists():
            raise ConfigError(f"run-config 'data-path': {path} does not exist")
        examples = task.examples(load_conversations(path), group_by)
    if cfg.max_examples:
        examples = examples[: cfg.max_examples]
    if len(task.labels) < 2:
        raise ConfigError(
            f"task {task.name!r} found {len(task.labels)} label(s) in {cfg.data_path}; needs >= 2 "
            f"(check 'task-field' / 'task-labels')"
        )
    return task, examples


def _load_hf(name_or_path: str):
    import datasets

    if Path(name_or_path).is_dir() and (Path(name_or_path) / "dataset_info.json").exists():
        ds = datasets.load_from_disk(name_or_path)
    else:
        ds = datasets.load_dataset(name_or_path)
    return ds["train"] if isinstance(ds, datasets.DatasetDict) else ds


def split_federation(task: Task, examples: list[Example], cfg: RunConfig, num_clients: int) -> Federation:
    rng = random.Random(cfg.seed)
    examples = list(examples)
    rng.shuffle(examples)
    n_server = int(len(examples) * cfg.server_test_fraction)
    server_test, rest = examples[:n_server], examples[n_server:]
    if cfg.partition_by == "dirichlet":
        parts = dirichlet_partitions(rest, num_clients, cfg.dirichlet_alpha, cfg.seed)
    else:
        parts = field_partitions(rest, num_clients, cfg.partition_by)
    silos = []
    for i, part in enumerate(parts):
        random.Random(cfg.seed * 1000 + i).shuffle(part)
        n_test = max(1, round(len(part) * cfg.test_fraction)) if len(part) > 1 and cfg.test_fraction else 0
        silos.append(Silo(train=part[n_test:], test=part[:n_test]))
    return Federation(task, server_test, silos)


def dirichlet_partitions(
    examples: list[Example], num_clients: int, alpha: float, seed: int
) -> list[list[Example]]:
    """Label-skewed silos from flwr-datasets' Dirichlet partitioner."""
    import datasets
    from flwr_datasets.partitioner import DirichletPartitioner

    if len(examples) < 2 * num_clients:
        raise ConfigError(f"{len(examples)} examples cannot fill {num_clients} clients (need >= 2 each)")
    ds = datasets.Dataset.from_dict(
        {"idx": list(range(len(examples))), "label": [ex.label for ex in examples]}
    )
    part = DirichletPartitioner(
        num_partitions=num_clients,
        partition_by="label",
        alpha=alpha,
        min_partition_size=2,
        self_balancing=True,
        shuffle=True,
        seed=seed,
    )
    part.dataset = ds
    return [[examples[i] for i in part.load_partition(c)["idx"]] for c in range(num_clients)]


def field_partitions(examples: list[Example], num_clients: int, field_name: str) -> list[list[Example]]:
    """Silos by a field's value (source, user_id, ...): the distinct values dealt round-robin to clients."""
    values = sorted({ex.group for ex in examples})
    if len(values) < num_clients:
        raise ConfigError(
            f"run-config 'partition-by' = {field_name!r} has {len(values)} distinct value(s), "
            f"fewer than the {num_clients} clients"
        )
    owner = {v: i % num_clients for i, v in enumerate(values)}
    parts: list[list[Example]] = [[] for _ in range(num_clients)]
    for ex in examples:
        parts[owner[ex.group]].append(ex)
    return parts


@functools.lru_cache(maxsize=4)
def _federation_cached(cfg_items: tuple, num_clients: int) -> Federation:
    cfg = RunConfig.from_mapping(dict(cfg_items))
    task, examples = load_task_examples(cfg)
    return split_federation(task, examples, cfg, num_clients)


def federation(cfg: RunConfig, num_clients: int) -> Federation:
    """The run's federation, computed once per process (Ray reuses client actors across rounds)."""
    keys = (
        "data_path",
        "task",
        "task_field",
        "task_labels",
        "prompt_template",
        "hf_text_column",
        "hf_label_column",
        "partition_by",
        "dirichlet_alpha",
        "test_fraction",
        "server_test_fraction",
        "max_examples",
        "seed",
    )
    return _federation_cached(tuple((k, getattr(cfg, k)) for k in keys), num_clients)
