"""`make demo`: the whole platform at small scale on embedded defaults (see demo/run.py)."""
