"""The hook that resolves sibling packages: a folder in a checkout, the lockstep version otherwise."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("hatch_siblings", ROOT / "tools/packaging/hatch_siblings.py")
hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hook)

COLLECTOR = str(ROOT / "services" / "collector")


def test_in_a_checkout_a_sibling_is_its_folder(monkeypatch):
    monkeypatch.delenv(hook.PIN_ENV, raising=False)
    got = hook.resolve("sharelm-collection[hf]", COLLECTOR, "0.1.0")
    assert got == f"sharelm-collection[hf] @ {(ROOT / 'packages' / 'collection').as_uri()}"


def test_pinned_when_asked_or_outside_a_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv(hook.PIN_ENV, "1")
    assert hook.resolve("sharelm-collection", COLLECTOR, "0.1.0") == "sharelm-collection==0.1.0"
    monkeypatch.delenv(hook.PIN_ENV)
    unpacked_sdist = tmp_path / "sharelm_collector-0.1.0"  # no siblings around it
    unpacked_sdist.mkdir()
    got = hook.resolve('sharelm-collector ; extra == "test"', str(unpacked_sdist), "0.1.0")
    assert got == 'sharelm-collector==0.1.0 ; extra == "test"'


def test_third_party_requirements_pass_through_and_siblings_take_no_version():
    assert hook.resolve("fastapi>=0.110", COLLECTOR, "0.1.0") == "fastapi>=0.110"
    with pytest.raises(ValueError, match="lockstep"):
        hook.resolve("sharelm-collection>=0.1", COLLECTOR, "0.1.0")


def test_one_version_across_the_packages():
    versions = {p: tomllib.loads((ROOT / p / "pyproject.toml").read_text())["project"]["version"]
                for p in hook.SIBLINGS.values()}
    assert len(set(versions.values())) == 1, versions
