"""Each package declares what its code imports, and imports what it declares.

Read from the source (ast) and from each pyproject: every module the code imports comes from a requirement
of the package, at run time or in an extra (the extras' code paths import lazily; the fresh-venv and
wheelhouse checks of `make test` run the packages with only what they declare). Every runtime requirement is
imported somewhere, except the few used without an import (listed below with the reason).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "packages/collection": "sharelm",
    "packages/sharedllm": "sharedllm",
    "packages/crosslm": "crosslm",
    "services/collector": "sharelm_collector",
    "services/chat": "sharedllm_chat",
}
# Required, yet never imported by name: what each one is for.
USED_WITHOUT_IMPORT = {
    "chatterbot-corpus": "data files read through importlib.resources",
    "psycopg": "SQLAlchemy's postgresql+psycopg driver",
    "uvicorn": "the server",
    "accelerate": "transformers' device placement",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(path: str) -> tuple[set[str], set[str]]:
    """(runtime, runtime + every extra) distribution names, from [project] or the siblings hook table."""
    project = tomllib.loads((ROOT / path / "pyproject.toml").read_text())
    table = project["project"]
    if "dependencies" in table.get("dynamic", []):
        table = project["tool"]["hatch"]["metadata"]["hooks"]["custom"]
    name = lambda r: _norm(re.split(r"[\[<>=!~; @]", r, maxsplit=1)[0])  # noqa: E731
    runtime = {name(r) for r in table.get("dependencies", [])}
    extras = {name(r) for reqs in table.get("optional-dependencies", {}).values() for r in reqs}
    return runtime, runtime | extras


def _imports(src: Path) -> set[str]:
    """Top-level names of the modules the package's source imports (not under `if TYPE_CHECKING`)."""
    every = set()
    for file in src.rglob("*.py"):
        tree = ast.parse(file.read_text())
        ifs = [i for i in ast.walk(tree) if isinstance(i, ast.If)]
        guards = [i for i in ifs if "TYPE_CHECKING" in ast.unparse(i.test)]
        typing_only = {id(n) for i in guards for n in ast.walk(i)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            mods = {n.split(".")[0] for n in names} - set(sys.stdlib_module_names) - {"__future__"}
            if id(node) in typing_only:
                continue
            every |= mods
    return every


SIBLING_MODULES = {
    "sharelm": "sharelm-collection", "sharedllm": "sharedllm", "crosslm": "crosslm",
    "sharelm_collector": "sharelm-collector", "sharedllm_chat": "sharedllm-chat",
}


def _dists(modules: set[str], own: str) -> dict[str, set[str]]:
    # Editable installs list no modules: the siblings are named here.
    index = {m: [d] for m, d in SIBLING_MODULES.items()} | packages_distributions()
    return {m: {_norm(d) for d in index.get(m, [m])} for m in modules if m != own}


@pytest.mark.parametrize("path", sorted(PACKAGES))
def test_imports_are_declared(path):
    _, declared = _requirements(path)
    every = _imports(ROOT / path / "src")
    missing = {m: d for m, d in _dists(every, PACKAGES[path]).items() if not d & declared}
    assert not missing, f"{path}: imported but declared nowhere (runtime or extra): {missing}"


@pytest.mark.parametrize("path", sorted(PACKAGES))
def test_runtime_requirements_are_used(path):
    runtime, _ = _requirements(path)
    every = _imports(ROOT / path / "src")
    imported = set().union(*_dists(every, PACKAGES[path]).values())
    unused = runtime - imported - set(USED_WITHOUT_IMPORT)
    assert not unused, f"{path}: runtime requirements nothing imports: {sorted(unused)}"
