"""Benchmarks of the collection package (not installed with it): run through `benchmarks/run.py`."""
