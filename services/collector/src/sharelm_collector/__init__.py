"""ShareLM collector: the service that receives, redacts, stores and exports shared conversations."""

__version__ = "0.1.0"
