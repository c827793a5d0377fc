"""Run-config values from the command line and from TOML files (shared by `crosslm run` and the benches)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from crosslm.config import ConfigError


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs; VALUE is read as TOML (numbers, booleans, quoted strings), else as a bare string."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"override {pair!r} is not KEY=VALUE")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file of run-config keys: a bare table, or the same under [tool.flwr.app.config]."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return dict(data.get("tool", {}).get("flwr", {}).get("app", {}).get("config", data))
