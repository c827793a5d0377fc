"""Hatch metadata hook shared by the monorepo's packages (each links it as `hatch_siblings.py`).

A package lists its requirements under `[tool.hatch.metadata.hooks.custom]` (`dependencies`,
`optional-dependencies`), exactly as it would under `[project]`. Requirements on the monorepo's own packages
(SIBLINGS) become:

- a direct reference to the sibling's folder when the build runs in a checkout that has it, so that
  `pip install ./services/collector` pulls `packages/collection` from the same checkout; and
- `name==<this package's version>` otherwise: with `SHARELM_PIN_SIBLINGS=1` (set by `make dist` for a
  release, and by `make install`, whose editable installs of all five then satisfy the pins) and when a
  wheel is built from a published sdist. The five packages are versioned in lockstep.
"""

from __future__ import annotations

import os
from pathlib import Path

from hatchling.metadata.plugin.interface import MetadataHookInterface
from packaging.requirements import Requirement

# Distribution name -> folder, relative to the repository root.
SIBLINGS = {
    "sharelm-collection": "packages/collection",
    "sharedllm": "packages/sharedllm",
    "crosslm": "packages/crosslm",
    "sharelm-collector": "services/collector",
    "sharedllm-chat": "services/chat",
}
PIN_ENV = "SHARELM_PIN_SIBLINGS"


def _sibling_folder(package_root: str, name: str) -> Path | None:
    """The sibling's folder in this checkout, or None when pinning or outside a checkout."""
    if os.environ.get(PIN_ENV, "") not in ("", "0"):
        return None
    repo = Path(package_root).resolve().parent.parent  # packages/X or services/X
    folder = repo / SIBLINGS[name]
    return folder if (folder / "pyproject.toml").is_file() else None


def resolve(requirement: str, package_root: str, version: str) -> str:
    """One requirement as it goes into the metadata: siblings become a path or a pin, others unchanged."""
    req = Requirement(requirement)
    if req.name not in SIBLINGS:
        return requirement
    if req.specifier:
        raise ValueError(f"{requirement!r}: sibling packages are versioned in lockstep; give no version")
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    marker = f" ; {req.marker}" if req.marker else ""
    folder = _sibling_folder(package_root, req.name)
    target = f" @ {folder.as_uri()}" if folder else f"=={version}"
    return f"{req.name}{extras}{target}{marker}"


class SiblingsMetadataHook(MetadataHookInterface):
    PLUGIN_NAME = "custom"

    def update(self, metadata: dict) -> None:
        version = metadata["version"]
        requirements = self.config.get("dependencies", [])
        metadata["dependencies"] = [resolve(r, self.root, version) for r in requirements]
        metadata["optional-dependencies"] = {
            extra: [resolve(r, self.root, version) for r in reqs]
            for extra, reqs in self.config.get("optional-dependencies", {}).items()
        }
