"""HTTP layer: routers, dependencies and the OpenAI-style error bodies."""
