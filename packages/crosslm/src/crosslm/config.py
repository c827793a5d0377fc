"""The run configuration: Flower's `[tool.flwr.app.config]` (hyphenated keys) as one typed object.

Keys, types and defaults are read from the app's pyproject.toml, the one place they are written:
`RunConfig` is a dataclass made from that table (a key's type is its default's). `crosslm run CONFIG` and
`flwr run -c` override them key by key; bad values fail with a message naming the key.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

METHODS = ("crosslm", "standalone", "kd", "kd-filtered", "fedavg")
LLM_METHODS = ("crosslm", "kd", "kd-filtered")  # the methods that use the server LLM
REGULARIZERS = ("lora", "kl", "replay")
AGGREGATIONS = ("label-weighted", "count-weighted", "median")
MODES = ("classify", "response")
RELABEL_VOTES = ("consensus", "majority")
TASKS = ("auto", "topic", "rating", "hf")
RESPONSE_METHODS = ("crosslm", "standalone")  # response mode: reward models with or without the federation
RESPONSE_SELECTS = ("best", "threshold")


class ConfigError(ValueError):
    """A run-config value that cannot be used; the message names the key."""


def app_pyproject() -> Path:
    """The Flower app's pyproject.toml (components + `[tool.flwr.app.config]`)."""
    here = Path(__file__).resolve()
    for candidate in (here.parent / "app" / "pyproject.toml", here.parents[2] / "pyproject.toml"):
        if candidate.exists() and "[tool.flwr.app]" in candidate.read_text():
            return candidate
    raise FileNotFoundError("the crosslm Flower app's pyproject.toml is not installed next to the package")


@functools.cache
def defaults() -> dict[str, Any]:
    """`[tool.flwr.app.config]` as written in the app's pyproject.toml (hyphenated keys)."""
    with app_pyproject().open("rb") as f:
        return dict(tomllib.load(f)["tool"]["flwr"]["app"]["config"])


class _Methods:
    """What a RunConfig can do beyond holding values (the fields come from the pyproject)."""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]):
        """Build from hyphenated (or underscored) keys; unknown keys and wrong types are errors."""
        known = {f.name: f for f in dataclasses.fields(cls)}
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

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    @property
    def slm_list(self) -> list[str]:
        return [s.strip() for s in self.slms.split(",") if s.strip()]

    @property
    def label_list(self) -> list[str]:
        return [s.strip() for s in self.task_labels.split(",") if s.strip()]

    @property
    def response(self) -> bool:
        return self.mode == "response"

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

        choices = {
            "method": METHODS,
            "aggregation": AGGREGATIONS,
            "mode": MODES,
            "task": TASKS,
            "response_select": RESPONSE_SELECTS,
            "relabel_vote": RELABEL_VOTES,
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise bad(
                    key.replace("_", "-"), f"must be one of {', '.join(allowed)}, not {getattr(self, key)!r}"
                )
        if self.num_rounds < 1:
            raise bad("num-rounds", "must be at least 1")
        if unknown := self.regularizers - set(REGULARIZERS):
            raise bad("regularizer", f"unknown {sorted(unknown)}; use a '+'-joined subset of {REGULARIZERS}")
        if not 0 <= self.threshold <= 1:
            raise bad("threshold", "must be within [0, 1]")
        for key in ("test_fraction", "server_test_fraction", "public_fraction", "val_fraction"):
            if not 0 <= getattr(self, key) < 1:
                raise bad(key.replace("_", "-"), "must be within [0, 1)")
        if self.server_test_fraction + self.public_fraction >= 1:
            raise bad("public-fraction", "public-fraction + server-test-fraction must be below 1")
        if not 0 < self.fraction_clients <= 1:
            raise bad("fraction-clients", "must be within (0, 1]")
        if self.dirichlet_alpha <= 0:
            raise bad("dirichlet-alpha", "must be positive")
        if self.mode == "response" and self.method not in RESPONSE_METHODS:
            raise bad("method", f"response mode runs {' or '.join(RESPONSE_METHODS)}, not {self.method!r}")
        if self.mode == "response" and "{prompt}" not in self.response_template:
            raise bad("response-template", "must contain {prompt}")
        if self.prompts_per_round < 1 or self.answers_per_prompt < 1:
            raise bad("prompts-per-round", "prompts-per-round and answers-per-prompt must be at least 1")
        if self.relabel and self.mode == "response":
            raise bad("relabel", "per-label feedback is for classify mode (response mode has one score)")
        if not 0 <= self.relabel_margin <= 1:
            raise bad("relabel-margin", "must be within [0, 1]")
        if not 0 <= self.agree_margin <= 1:
            raise bad("agree-margin", "must be within [0, 1]")
        if self.dp_noise_multiplier < 0 or self.dp_clip < 0:
            raise bad("dp-noise-multiplier", "noise multiplier and dp-clip must be >= 0")

    def require_models(self) -> None:
        """What a real run needs beyond the defaults: data, an LLM and at least one SLM."""
        if not self.data_path:
            raise ConfigError("run-config 'data-path' is empty: point it at a ShareLM collection export")
        if not self.llm and self.method in LLM_METHODS:
            raise ConfigError("run-config 'llm' is empty: name a transformers causal LM (name or path)")
        if not self.slm_list:
            raise ConfigError("run-config 'slms' is empty: name at least one sequence-classification model")


def _make_class() -> type:
    specs = [
        (key.replace("-", "_"), type(value).__name__, dataclasses.field(default=value))
        for key, value in defaults().items()
    ]
    cls = dataclasses.make_dataclass("RunConfig", specs, bases=(_Methods,))
    cls.__module__ = __name__  # pickles (Ray, multiprocessing) find it here
    return cls


RunConfig: Any = _make_class()


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
