"""Saved checkpoints that transformers' Auto classes load in a fresh process.

transformers knows model types registered in the running process only (`import sharedllm` registers
"sharedllm"). For a process that has not imported the package, a checkpoint names its classes in the config's
`auto_map`, transformers' mechanism for code outside the library: `AutoModelForCausalLM.from_pretrained(path,
trust_remote_code=True)` then imports the shim written next to the weights, and the shim imports the installed
`sharedllm` package. The shim holds no model code, so a checkpoint never carries a stale copy of it.
"""

from __future__ import annotations

import json
from pathlib import Path

SHIM_MODULE = "sharedllm_auto"
SHIM_SOURCE = '''"""This checkpoint for transformers' Auto classes: the code is the installed `sharedllm`."""

from sharedllm import SharedLLMConfig, SharedLLMForCausalLM

__all__ = ["SharedLLMConfig", "SharedLLMForCausalLM"]
'''
AUTO_MAP = {
    "AutoConfig": f"{SHIM_MODULE}.SharedLLMConfig",
    "AutoModelForCausalLM": f"{SHIM_MODULE}.SharedLLMForCausalLM",
}


def write_auto_map(save_directory: str | Path) -> None:
    """Add the shim and `auto_map` to a folder that `save_pretrained` has just written."""
    folder = Path(save_directory)
    (folder / f"{SHIM_MODULE}.py").write_text(SHIM_SOURCE)
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text())
    config["auto_map"] = AUTO_MAP
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
