"""Training SharedLLM: an accelerate-driven loop, a from-scratch base model, `sharedllm train`."""

from sharedllm.training.loop import TrainConfig, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
