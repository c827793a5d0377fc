import torch

from sharedllm import ContextTree
from sharedllm.tree import gather_positions


def test_default_tree_keeps_128_of_1024_finest_first():
    tree = ContextTree(chunk_size=1024, height=3, kv_per_node=32, noise_sigma=0.2, policy="right")
    positions = tree.select(num_chunks=2, device="cpu")
    assert positions.shape == (2, 128) and tree.kv_per_chunk == 128
    leaves, level2, level1 = positions[0, :64], positions[0, 64:96], positions[0, 96:]
    # right policy: the two 128-token leaves are the last 256 tokens, then the 256-token sibling, then 512.
    assert leaves.min() >= 768 and leaves.max() == 1023
    assert level2.min() >= 512 and level2.max() == 767
    assert level1.min() >= 0 and level1.max() == 511
    # uniform downsampling: stride 4 in leaves (1/4), 8 at level 2 (1/8), 16 at level 1 (1/16)
    assert set(leaves.diff().tolist()) == {4} and set(level2.diff().tolist()) == {8}
    assert set(level1.diff().tolist()) == {16}


def test_split_noise_moves_splits_in_training_only():
    tree = ContextTree(chunk_size=1024, height=3, kv_per_node=32, noise_sigma=0.2, policy="right")
    torch.manual_seed(0)
    assert torch.equal(tree.select(8, "cpu"), tree.select(8, "cpu"))
    noisy = tree.select(8, "cpu", training=True)
    assert not torch.equal(noisy, tree.select(8, "cpu"))
    assert len({tuple(row.tolist()) for row in noisy}) > 1  # each chunk gets its own splits
    assert (noisy.diff(dim=1)[:, :31] > 0).all()  # leaves keep distinct positions


def test_query_policy_expands_the_child_most_like_the_query():
    tree = ContextTree(chunk_size=64, height=2, kv_per_node=4, noise_sigma=0.0, policy="query")
    probe = torch.randn(2, 64, 8)
    query = torch.stack([probe[0, 31], probe[1, 63]])  # chunk 0 asks about the left half, chunk 1 the right
    positions = tree.select(2, "cpu", probe=probe, query=query)
    level1 = positions[:, 8:]  # the preserved sibling at level 1
    assert level1[0].min() >= 32  # chunk 0 expanded left, kept the right half coarsely
    assert level1[1].max() <= 31  # chunk 1 expanded right
    assert positions[0, :8].max() <= 31 and positions[1, :8].min() >= 32


def test_query_max_policy_expands_the_child_holding_the_token_most_like_the_query():
    tree = ContextTree(chunk_size=64, height=2, kv_per_node=4, noise_sigma=0.0, policy="query-max")
    probe = torch.randn(2, 64, 8)
    # The needles sit mid-node (positions 10 and 40), where the last-token policy cannot see them.
    query = torch.stack([probe[0, 10], probe[1, 40]])
    positions = tree.select(2, "cpu", probe=probe, query=query)
    assert positions[0, :8].max() <= 31 and positions[1, :8].min() >= 32  # the needle's half, expanded
    assert positions[0, 8:].min() >= 32 and positions[1, 8:].max() <= 31  # the other half, coarsely


def test_gather_positions_picks_per_chunk_positions():
    states = torch.arange(2 * 1 * 6 * 1).float().view(2, 1, 6, 1)
    kept = gather_positions(states, torch.tensor([[0, 5], [1, 2]]))
    assert kept.flatten().tolist() == [0, 5, 7, 8]
