"""Loading the served model: a SharedLLM checkpoint, a base checkpoint made into one, or the embedded default
(the trained chat model shipped in `sharedllm.chat_model`, or a tiny random SharedLLM)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from sharedllm import ContextCache, SharedLLMForCausalLM
from sharedllm.chat_model import default_chat_model_path
from sharedllm_chat.engine.tokenizer import CHATML_TEMPLATE, build_byte_tokenizer
from sharedllm_chat.settings import Settings

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoadedModel:
    model: PreTrainedModel  # SharedLLMForCausalLM, or any causal LM (then served with full attention)
    tokenizer: PreTrainedTokenizerBase
    name: str
    chunk_size: int
    upper_window: int
    eos_ids: frozenset[int]

    @property
    def sharedllm(self) -> SharedLLMForCausalLM | None:
        """The model as a SharedLLM, or None for a plain causal LM (no context chunks)."""
        return self.model if isinstance(self.model, SharedLLMForCausalLM) else None

    @property
    def supports_context(self) -> bool:
        return self.sharedllm is not None

    @property
    def max_positions(self) -> int:
        config = self.model.config.get_text_config()
        return int(getattr(config, "max_position_embeddings", None) or 2**31)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def new_context_cache(self) -> ContextCache:
        if self.sharedllm is None:
            raise ValueError(f"{type(self.model).__name__} reads no context chunks")
        return self.sharedllm.new_context_cache()


def _eos_ids(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> frozenset[int]:
    ids = set()
    for token in (tokenizer.eos_token, "<|im_end|>", "<|eot_id|>", "<|end|>"):
        tid = tokenizer.convert_tokens_to_ids(token) if token else None
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    eos = model.generation_config.eos_token_id if model.generation_config is not None else None
    ids.update([eos] if isinstance(eos, int) else (eos or []))
    return frozenset(ids)


def _config_value(model: PreTrainedModel, *names: str) -> int | None:
    for name in names:
        value = getattr(model.config, name, None)
        if isinstance(value, int):
            return value
    return None


def build_embedded_base(settings: Settings, tokenizer: PreTrainedTokenizerBase):
    """The tiny random Llama under the embedded default (seeded: the same weights every time)."""
    from sharedllm.tiny import tiny_base_model

    return tiny_base_model(
        "llama",
        seed=settings.embedded_seed,
        vocab_size=len(tokenizer),
        hidden_size=settings.embedded_hidden_size,
        intermediate_size=2 * settings.embedded_hidden_size,
        num_hidden_layers=settings.embedded_layers,
        max_position_embeddings=1 << 20,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_embedded_model(settings: Settings):
    """A tiny random SharedLLM over a byte-level tokenizer: runs anywhere, downloads nothing."""
    tokenizer = build_byte_tokenizer()
    model = SharedLLMForCausalLM.from_base(
        build_embedded_base(settings, tokenizer),
        num_injection_layers=settings.num_injection_layers,
        chunk_size=settings.chunk_size,
        kv_per_node=settings.kv_per_node,
        upper_window=settings.upper_window or 4 * settings.chunk_size,
    )
    return model, tokenizer


# Knobs that shape the random embedded model: setting one asks for that model rather than the trained one.
RANDOM_SHAPE_KNOBS = frozenset(
    {"num_injection_layers", "chunk_size", "kv_per_node", "embedded_hidden_size", "embedded_layers"}
    | {"embedded_seed"}
)


def trained_default_path(settings: Settings):
    """The shipped trained chat model's directory when the settings name no model and ask for no random
    shape, else None (also when the package was built without its data: then a warning)."""
    if settings.embedded_model != "trained" or settings.model_fields_set & RANDOM_SHAPE_KNOBS:
        return None
    path = default_chat_model_path()
    if path is None:
        log.warning("the trained default model is not installed (sharedllm.chat_model); serving a random one")
    return path


def load_model(settings: Settings) -> LoadedModel:
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    if settings.model_path:
        model = SharedLLMForCausalLM.from_pretrained(settings.model_path, dtype=_DTYPES[settings.dtype])
        tokenizer = AutoTokenizer.from_pretrained(settings.tokenizer_path or settings.model_path)
    elif settings.base_model:
        model = SharedLLMForCausalLM.from_base(
            settings.base_model,
            num_injection_layers=settings.num_injection_layers,
            chunk_size=settings.chunk_size,
            kv_per_node=settings.kv_per_node,
            **({"upper_window": settings.upper_window} if settings.upper_window else {}),
        )
        tokenizer = AutoTokenizer.from_pretrained(settings.tokenizer_path or settings.base_model)
    elif (trained := trained_default_path(settings)) is not None:
        model = SharedLLMForCausalLM.from_pretrained(trained, dtype=_DTYPES[settings.dtype])
        tokenizer = AutoTokenizer.from_pretrained(trained)
    else:
        model, tokenizer = build_embedded_model(settings)
    return wrap_model(model, tokenizer, settings)


def wrap_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, settings: Settings) -> LoadedModel:
    """Put a model and its tokenizer in serving shape (device, dtype, eval, a chat template)."""
    model = model.to(device=settings.device, dtype=_DTYPES[settings.dtype]).eval()
    if not tokenizer.chat_template:
        log.warning("the tokenizer has no chat template; using ChatML")
        tokenizer.chat_template = CHATML_TEMPLATE
    chunk_size = _config_value(model, "chunk_size") or settings.chunk_size
    window = settings.upper_window or _config_value(model, "upper_window") or 4 * chunk_size
    return LoadedModel(
        model, tokenizer, settings.served_model_name, chunk_size, window, _eos_ids(tokenizer, model)
    )
