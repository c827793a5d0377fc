"""This checkpoint for transformers' Auto classes: the code is the installed `sharedllm`."""

from sharedllm import SharedLLMConfig, SharedLLMForCausalLM

__all__ = ["SharedLLMConfig", "SharedLLMForCausalLM"]
