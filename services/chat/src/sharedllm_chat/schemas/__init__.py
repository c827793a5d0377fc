"""Request/response bodies: the OpenAI chat protocol and the service's own conversation endpoints."""
