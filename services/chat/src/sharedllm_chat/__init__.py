"""sharedllm-chat: OpenAI-compatible long-chat serving of SharedLLM models."""

from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings

__all__ = ["Settings", "create_app"]
__version__ = "0.1.0"
