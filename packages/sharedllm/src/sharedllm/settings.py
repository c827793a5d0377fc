"""Settings objects from a file plus `--set key=value` overrides: one mechanism for the training commands
and the benchmarks. A settings object is a dataclass; values are converted to its fields' declared types.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(raw: str, kind: Any) -> Any:
    """A command-line string as a value of the annotated type (int, float, bool, str, Path, tuple[...],
    list[...], X | None; 'none' for None)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if raw.strip().lower() in ("none", "null", ""):
            return None
        return _convert(raw, next(a for a in args if a is not type(None)))
    if origin in (tuple, list):
        item = args[0] if args else str
        values = [_convert(v.strip(), item) for v in raw.split(",") if v.strip()]
        return tuple(values) if origin is tuple else values
    if kind is bool:
        if raw.strip().lower() not in TRUE + FALSE:
            raise ValueError(f"expected true or false, got {raw!r}")
        return raw.strip().lower() in TRUE
    if kind in (int, float, str, Path):
        return kind(raw)
    if dataclasses.is_dataclass(kind):
        raise ValueError("set its fields one by one, e.g. base.window=256")
    return raw


def _field_type(obj: Any, name: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    if name not in hints or name.startswith("_"):
        known = ", ".join(f.name for f in dataclasses.fields(obj))
        raise ValueError(f"unknown setting {name!r} (settings: {known})")
    return hints[name]


def set_value(obj: Any, key: str, value: Any) -> None:
    """Set `key` (dotted for nested dataclasses: base.window) from a string or an already typed value."""
    head, _, rest = key.partition(".")
    kind = _field_type(obj, head)
    if rest:
        inner = getattr(obj, head)
        if not dataclasses.is_dataclass(inner):
            raise ValueError(f"{head} has no fields")
        inner = dataclasses.replace(inner)  # frozen dataclasses: rebuild
        set_value(inner, rest, value)
        object.__setattr__(obj, head, inner)
        return
    try:
        typed = _convert(value, kind) if isinstance(value, str) else value
    except ValueError as exc:
        raise ValueError(f"{key} needs a value like {getattr(obj, head)!r}, got {value!r}: {exc}") from None
    object.__setattr__(obj, head, typed)


def apply_overrides(obj: T, assignments: list[str]) -> T:
    """`key=value` strings (the `--set` options) applied in order."""
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep:
            raise ValueError(f"--set takes key=value, got {assignment!r}")
        set_value(obj, key.strip(), raw)
    return obj


def load_settings_file(obj: T, path: Path) -> T:
    """Values from a TOML or JSON file (a table of setting = value; nested tables for nested settings)."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"settings file {path} does not exist")
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)

    def walk(prefix: str, table: dict) -> None:
        for key, value in table.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(f"{name}.", value)
            else:
                set_value(obj, name, tuple(value) if isinstance(value, list) else value)

    walk("", data)
    return obj


def settings_dict(obj: Any) -> dict:
    """JSON-ready values (what a run records next to its outputs)."""
    return json.loads(json.dumps(dataclasses.asdict(obj), default=str))
