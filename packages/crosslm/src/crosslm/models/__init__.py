"""The two sides' models: the server LLM, the client SLMs, and tiny config-built ones for tests."""

from crosslm.models.llm import FinetuneSettings, ServerLLM
from crosslm.models.slm import ClientSLM

__all__ = ["ClientSLM", "FinetuneSettings", "ServerLLM"]
