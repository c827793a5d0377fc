"""The default chat model shipped with the package: a small SharedLLM chat-tuned on real dialogs.

Built by `make chat-default-model` (`packages/sharedllm/scripts/chat_default_model.sh`: `sharedllm train
tokenizer`, `train base`, `train chat` on the ChatterBot corpus and ShareLM-schema conversations) and kept
here as package data, so that `sharedllm-chat serve` answers in English on a fresh machine with no download.

    from sharedllm.chat_model import default_chat_model_path
    model = SharedLLMForCausalLM.from_pretrained(default_chat_model_path())
"""

from __future__ import annotations

from pathlib import Path

CHAT_MODEL_DIR = Path(__file__).parent
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def default_chat_model_path() -> Path | None:
    """The shipped checkpoint's directory, or None when it is not there (a build without package data)."""
    return CHAT_MODEL_DIR if all((CHAT_MODEL_DIR / f).is_file() for f in FILES) else None
