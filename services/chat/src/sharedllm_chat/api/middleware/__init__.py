"""Pure ASGI middleware: what must happen before FastAPI parses anything, or after it failed."""
