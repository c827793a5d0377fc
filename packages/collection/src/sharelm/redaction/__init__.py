"""Parts of `sharelm.redact`: the post-checks of the shared rules, the name lexicon and the name rule."""
