"""Benchmarks: the baselines side by side on a controlled synthetic world, ChatterBot, and at scale."""
