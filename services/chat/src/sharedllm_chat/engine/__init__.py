"""The generation engine: model loading, prompt layout, context caches, sampling and the scheduler."""
