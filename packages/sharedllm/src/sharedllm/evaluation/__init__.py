"""Evaluating SharedLLM: perplexity at length vs base-model baselines, passkey retrieval, quality bench."""

from sharedllm.evaluation.passkey import passkey_accuracy, passkey_prompt
from sharedllm.evaluation.perplexity import PplSetup, evaluate_perplexity, ppl_table

__all__ = ["PplSetup", "evaluate_perplexity", "passkey_accuracy", "passkey_prompt", "ppl_table"]
