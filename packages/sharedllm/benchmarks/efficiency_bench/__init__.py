"""Efficiency benchmark: SharedLLM vs its base model with full attention, time and peak memory by length."""
