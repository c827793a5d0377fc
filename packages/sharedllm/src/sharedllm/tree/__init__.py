from sharedllm.tree.context_tree import ContextTree, gather_positions

__all__ = ["ContextTree", "gather_positions"]
