"""The run configuration: Flower's `[tool.flwr.app.config]` (hyphenated keys) as one typed object.

The defaults here mirror the app's pyproject.toml (a test keeps the two equal); `crosslm run CONFIG` and
`flwr run -c` override them key by key. Bad values fail with a message naming the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

METHODS = ("crosslm", "standalone", "kd", "fedavg")
REGULARIZERS = ("lora", "kl", "replay")


class ConfigError(ValueError):
    """A run-config value that cannot be used; the message names the key."""


@dataclass
class RunConfig:
    method: str = "crosslm"
    num_rounds: int = 3
    out_dir: str = "runs/crosslm"
    resume: bool = False
    seed: int = 0
    data_path: str = ""
    task: str = "topic"
    task_field: str = "topic"
    task_labels: str = ""
    prompt_template: str = "{label} :"
    hf_text_column: str = "text"
    hf_label_column: str = "label"
    partition_by: str = "dirichlet"
    dirichlet_alpha: float = 0.5
    test_fraction: float = 0.3
    server_test_fraction: float = 0.15
    max_examples: int = 0
    llm: str = ""
    llm_lora: bool = True
    lora_r: int = 8
    general_text: str = ""
    samples_per_label: int = 16
    max_new_tokens: int = 24
    temperature: float = 1.0
    top_k: int = 0
    pool_size: int = 512
    threshold: float = 0.5
    negative_weight: float = 0.0
    regularizer: str = "lora"
    kl_weight: float = 0.5
    replay_weight: float = 1.0
    llm_epochs: int = 2
    llm_lr: float = 0.001
    llm_batch_size: int = 16
    slms: str = ""
    slm_epochs: int = 3
    slm_lr: float = 0.001
    slm_batch_size: int = 16
    slm_max_length: int = 64
    synthetic_weight: float = 1.0
    dp_noise_multiplier: float = 0.0
    dp_clip: float = 0.0
    dp_delta: float = 1e-5
    min_clients: int = 2
    fraction_clients: float = 1.0
    round_timeout: float = 600.0
    node_wait_timeout: float = 120.0
    audit_dir: str = ""
    fail_partition: int = -1
    fail_round: int = -1
    hang_partition: int = -1
    hang_round: int = -1

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RunConfig:
        """Build from hyphenated (or underscored) keys; unknown keys and wrong types are errors."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(f"unknown run-config key {key!r}")
            kwargs[name] = _coerce(key, value, known[name].type)
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def to_mapping(self) -> dict[str, Any]:
        """Hyphenated keys, as Flower's run config spells them."""
        return {k.replace("_", "-"): v for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    @property
    def slm_list(self) -> list[str]:
        return [s.strip() for s in self.slms.split(",") if s.strip()]

    @property
    def label_list(self) -> list[str]:
        return [s.strip() for s in self.task_labels.split(",") if s.strip()]

    @property
    def regularizers(self) -> set[str]:
        return {r.strip() for r in self.regularizer.split("+") if r.strip() and r.strip() != "none"}

    def slm_for(self, partition_id: int) -> str:
        slms = self.slm_list
        if self.method == "fedavg":  # FedAvg averages one architecture
            return slms[0]
        return slms[partition_id % len(slms)]

    def validate(self) -> None:
        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"run-config {key!r}: {why}")

        if self.method not in METHODS:
            raise bad("method", f"must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.num_rounds < 1:
            raise bad("num-rounds", "must be at least 1")
        if unknown := self.regularizers - set(REGULARIZERS):
            raise bad("regularizer", f"unknown {sorted(unknown)}; use a '+'-joined subset of {REGULARIZERS}")
        if not 0 <= self.threshold <= 1:
            raise bad("threshold", "must be within [0, 1]")
        for key in ("test_fraction", "server_test_fraction"):
            if not 0 <= getattr(self, key) < 1:
                raise bad(key.replace("_", "-"), "must be within [0, 1)")
        if not 0 < self.fraction_clients <= 1:
            raise bad("fraction-clients", "must be within (0, 1]")
        if self.dirichlet_alpha <= 0:
            raise bad("dirichlet-alpha", "must be positive")
        if self.dp_noise_multiplier < 0 or self.dp_clip < 0:
            raise bad("dp-noise-multiplier", "noise multiplier and dp-clip must be >= 0")

    def require_models(self) -> None:
        """What a real run needs beyond the defaults: data, an LLM and at least one SLM."""
        if not self.data_path:
            raise ConfigError("run-config 'data-path' is empty: point it at a ShareLM collection export")
        if not self.llm and self.method in ("crosslm", "kd"):
            raise ConfigError("run-config 'llm' is empty: name a transformers causal LM (name or path)")
        if not self.slm_list:
            raise ConfigError("run-config 'slms' is empty: name at least one sequence-classification model")


def _coerce(key: str, value: Any, type_name: Any) -> Any:
    kind = {"int": int, "float": float, "bool": bool, "str": str}.get(str(type_name), str)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise ConfigError(f"run-config {key!r}: expected true/false, got {value!r}")
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"run-config {key!r}: expected {kind.__name__}, got {value!r}") from None
