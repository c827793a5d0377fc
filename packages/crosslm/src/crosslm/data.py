"""Client silos from a ShareLM collection export: examples, a server benchmark split, partitions.

The split is made once (`crosslm run` writes one file per client, standing in for each data owner's disk);
a client then reads only its own file, and the server only its benchmark and public shares.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from crosslm.config import ConfigError, RunConfig
from crosslm.task import Example, Task, build_task, hf_examples


@dataclass
class Silo:
    train: list[Example]
    test: list[Example]
    val: list[Example] = field(default_factory=list)  # from the train share: early stopping


@dataclass
class Federation:
    task: Task
    server_test: list[Example]  # the server's task benchmark for the LLM
    silos: list[Silo]
    public: list[Example] = field(default_factory=list)  # text the server may train on (tiny LLMs)


def load_task_examples(cfg: RunConfig) -> tuple[Task, list[Example]]:
    """The task and all its labelled examples from `cfg.data_path` (rated answers in response mode)."""
    from crosslm.reward import response_examples, response_task
    from crosslm.snapshot import check_labels, choose_task, load_snapshot

    group_by = None if cfg.partition_by == "dirichlet" else cfg.partition_by
    if cfg.task == "hf" and not cfg.response:
        task = build_task("hf", cfg.task_field, cfg.label_list, cfg.prompt_template)
        examples, task.labels = hf_examples(
            _load_hf(cfg.data_path), cfg.hf_text_column, cfg.hf_label_column, cfg.label_list
        )
    else:
        convs = load_snapshot(cfg.data_path)
        if cfg.response:
            task = response_task(cfg.response_template)
            examples = response_examples(convs, group_by)
        else:
            task = choose_task(cfg, convs)
            examples = task.examples(convs, group_by)
    if cfg.max_examples:
        examples = examples[: cfg.max_examples]
    check_labels(task, examples, cfg)
    return task, examples


def _load_hf(name_or_path: str):
    import datasets

    if Path(name_or_path).is_dir() and (Path(name_or_path) / "dataset_info.json").exists():
        ds = datasets.load_from_disk(name_or_path)
    else:
        ds = datasets.load_dataset(name_or_path)
    return ds["train"] if isinstance(ds, datasets.DatasetDict) else ds


def split_federation(task: Task, examples: list[Example], cfg: RunConfig, num_clients: int) -> Federation:
    """Server benchmark share, server public share, then the clients' silos (train / val / test)."""
    rng = random.Random(cfg.seed)
    examples = list(examples)
    rng.shuffle(examples)
    n_server = int(len(examples) * cfg.server_test_fraction)
    n_public = int(len(examples) * cfg.public_fraction)
    server_test, public = examples[:n_server], examples[n_server : n_server + n_public]
    rest = examples[n_server + n_public :]
    if cfg.partition_by == "dirichlet":
        parts = dirichlet_partitions(rest, num_clients, cfg.dirichlet_alpha, cfg.seed)
    else:
        parts = field_partitions(rest, num_clients, cfg.partition_by)
    silos = [_silo(part, cfg, cfg.seed * 1000 + i) for i, part in enumerate(parts)]
    from crosslm.snapshot import check_silos

    check_silos(silos, cfg)
    return Federation(task, server_test, silos, public)


def server_shares(cfg: RunConfig) -> Federation:
    """What the server holds: the task, its benchmark and public shares (the silos' contents dropped)."""
    task, examples = load_task_examples(cfg)
    n_server = int(len(examples) * cfg.server_test_fraction)
    n_public = int(len(examples) * cfg.public_fraction)
    rng = random.Random(cfg.seed)
    examples = list(examples)
    rng.shuffle(examples)  # the same order split_federation uses
    return Federation(task, examples[:n_server], [], examples[n_server : n_server + n_public])


def _silo(part: list[Example], cfg: RunConfig, seed: int) -> Silo:
    part = list(part)
    random.Random(seed).shuffle(part)
    n_test = max(1, round(len(part) * cfg.test_fraction)) if len(part) > 1 and cfg.test_fraction else 0
    test, train = part[:n_test], part[n_test:]
    n_val = round(len(train) * cfg.val_fraction) if len(train) >= 4 else 0
    return Silo(train=train[n_val:], test=test, val=train[:n_val])


def plan_federation(cfg: RunConfig, num_clients: int) -> Federation:
    """The federation a run would make (nothing written): its checks raise before any model is built."""
    task, examples = load_task_examples(cfg)
    return split_federation(task, examples, cfg, num_clients)


def write_silos(cfg: RunConfig, num_clients: int, silo_dir: str | Path) -> Federation:
    """One JSON file per client (its labels and its examples): each client's own disk, in a simulation."""
    fed = plan_federation(cfg, num_clients)
    task = fed.task
    root = Path(silo_dir)
    root.mkdir(parents=True, exist_ok=True)
    for i, silo in enumerate(fed.silos):
        parts = {k: [asdict(e) for e in getattr(silo, k)] for k in ("train", "val", "test")}
        body = {"labels": task.labels, **parts}
        (root / f"client-{i}.json").write_text(json.dumps(body))
    return fed


def read_silo(silo_dir: str | Path, partition_id: int) -> tuple[list[str], Silo]:
    """(labels, silo) of one client: the only data a ClientApp reads."""
    path = Path(silo_dir) / f"client-{partition_id}.json"
    if not path.exists():
        raise ConfigError(f"run-config 'silo-dir': {path} does not exist (`crosslm silos` writes them)")
    body = json.loads(path.read_text())
    parts = {k: [Example(**e) for e in body[k]] for k in ("train", "val", "test")}
    return body["labels"], Silo(**parts)


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
    """Silos by a field's value (source, user_id, ...), with flwr-datasets' natural-id partitioners:
    the distinct values in groups when they divide evenly enough, else dealt round-robin to the clients."""
    import datasets
    from flwr_datasets.partitioner import GroupedNaturalIdPartitioner, NaturalIdPartitioner

    values = sorted({ex.group for ex in examples})
    if len(values) < num_clients:
        raise ConfigError(
            f"run-config 'partition-by' = {field_name!r} has {len(values)} distinct value(s), "
            f"fewer than the {num_clients} clients"
        )
    size = len(values) // num_clients
    owner = {v: i % num_clients for i, v in enumerate(values)}
    ds = datasets.Dataset.from_dict(
        {
            "idx": list(range(len(examples))),
            "group": [ex.group for ex in examples],
            "silo": [owner[ex.group] for ex in examples],
        }
    )
    if len(values) // size == num_clients:
        part = GroupedNaturalIdPartitioner("group", size, mode="allow-bigger", sort_unique_ids=True)
    else:
        part = NaturalIdPartitioner("silo")
    part.dataset = ds
    return [[examples[i] for i in part.load_partition(c)["idx"]] for c in range(num_clients)]
