"""CrossLM: federated mutual enhancement of a server LLM and client SLMs (Flower on Ray, ShareLM data)."""

__version__ = "0.1.0"
