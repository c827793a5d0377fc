from sharedllm.model.cross_attention import SharedKVCrossAttention
from sharedllm.model.injected_context import InjectedContext
from sharedllm.model.injected_layer import InjectedDecoderLayer
from sharedllm.model.modeling import SharedLLMForCausalLM, SharedLLMOutput, SharedLLMPreTrainedModel
from sharedllm.model.positions import rotate, rotation

__all__ = [
    "InjectedContext",
    "InjectedDecoderLayer",
    "SharedKVCrossAttention",
    "SharedLLMForCausalLM",
    "SharedLLMOutput",
    "SharedLLMPreTrainedModel",
    "rotate",
    "rotation",
]
