import torch

from sharedllm.data.chunking import IGNORE_INDEX, chunk_document, collate_chunked, split_for_sharedllm


def test_split_keeps_the_most_recent_text_up_and_whole_chunks_right_before_it():
    tokens = torch.arange(100)
    ex = split_for_sharedllm(tokens, chunk_size=16, upper_len=30)
    assert ex.input_ids.tolist() == list(range(70, 100))
    assert ex.context_input_ids.shape == (4, 16)  # 70 context tokens: 4 whole chunks, 6 oldest dropped
    assert ex.context_input_ids[0, 0].item() == 6 and ex.context_input_ids[-1, -1].item() == 69
    assert ex.labels.tolist() == ex.input_ids.tolist()


def test_split_limits_chunks_to_the_most_recent_ones():
    ex = split_for_sharedllm(torch.arange(100), chunk_size=16, upper_len=30, max_chunks=2)
    assert ex.context_input_ids.flatten().tolist() == list(range(38, 70))


def test_short_text_has_no_chunks():
    ex = split_for_sharedllm(torch.arange(20), chunk_size=16, upper_len=30)
    assert ex.context_input_ids.shape == (0, 16) and ex.input_ids.numel() == 20


def test_chunk_document_windows_do_not_overlap_and_the_tail_has_fewer_chunks():
    doc = torch.arange(2 * (3 * 8 + 10) + 8 + 10)  # two full windows + a tail with one chunk
    examples = chunk_document(doc, n_chunks=3, chunk_size=8, upper_len=10)
    assert [ex.context_input_ids.shape[0] for ex in examples] == [3, 3, 1]
    seen = torch.cat([torch.cat([ex.context_input_ids.flatten(), ex.input_ids]) for ex in examples])
    assert seen.tolist() == doc.tolist()


def test_collate_pads_chunks_and_upper_text_with_masks():
    a = split_for_sharedllm(torch.arange(40), chunk_size=8, upper_len=16)  # 3 chunks
    b = split_for_sharedllm(torch.arange(20), chunk_size=8, upper_len=12)  # 1 chunk, shorter upper text
    batch = collate_chunked([a, b], pad_token_id=0)
    assert batch["context_input_ids"].shape == (2, 3, 8)
    assert batch["context_mask"].tolist() == [[True, True, True], [True, False, False]]
    assert batch["attention_mask"].sum(1).tolist() == [16, 12]
    assert (batch["labels"][1, 12:] == IGNORE_INDEX).all()
    assert torch.equal(batch["context_input_ids"][1, 0], b.context_input_ids[0])
