"""SharedLLM: context window extension with multi-grained self-injection, on transformers' Llama family."""

from transformers import AutoConfig, AutoModelForCausalLM

from sharedllm.config import SharedLLMConfig
from sharedllm.context_cache import ContextCache
from sharedllm.model import InjectedContext, SharedLLMForCausalLM
from sharedllm.trainable import PRESETS, apply_trainable_preset
from sharedllm.tree import ContextTree

AutoConfig.register("sharedllm", SharedLLMConfig, exist_ok=True)
AutoModelForCausalLM.register(SharedLLMConfig, SharedLLMForCausalLM, exist_ok=True)

__all__ = [
    "PRESETS",
    "ContextCache",
    "ContextTree",
    "InjectedContext",
    "SharedLLMConfig",
    "SharedLLMForCausalLM",
    "apply_trainable_preset",
]
