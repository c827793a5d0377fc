from sharedllm.tree.context_tree import ContextTree, gather_positions, kv_per_chunk

__all__ = ["ContextTree", "gather_positions", "kv_per_chunk"]
