import random

import torch

from sharedllm.data.chunking import (
    IGNORE_INDEX,
    chunk_document,
    collate_chunked,
    layout_example,
    query_end_before_answer,
)
from sharedllm.layout import layout_prompt, sample_running_length


def test_layout_anchors_chunks_at_the_start_and_gives_the_rest_to_the_upper_model():
    layout = layout_prompt(torch.arange(100), chunk_size=16, upper_window=30)
    # 100 - 30 = 70 tokens over the window: ceil(70 / 16) = 5 chunks from the start, 20 tokens up
    assert layout.context.flatten().tolist() == list(range(80))
    assert layout.running.tolist() == list(range(80, 100))


def test_a_growing_chat_keeps_its_chunks_byte_identical():
    chat = torch.randint(3, 200, (400,), generator=torch.Generator().manual_seed(0))
    earlier = layout_prompt(chat[:250], 32, 96, reserve=8)
    later = layout_prompt(chat, 32, 96, reserve=8)
    assert torch.equal(later.context[: earlier.num_chunks], earlier.context)
    assert later.running.numel() + 8 <= 96 and earlier.running.numel() + 8 <= 96


def test_reserve_and_min_chunks_match_serving():
    layout = layout_prompt(torch.arange(60), 16, 64, reserve=10)  # 60 + 10 > 64: one chunk
    assert layout.num_chunks == 1 and layout.running.numel() == 44
    kept = layout_prompt(torch.arange(60), 16, 64, min_chunks=3)  # chunks already encoded stay in use
    assert kept.num_chunks == 3 and kept.running.numel() == 12
    assert layout_prompt(torch.arange(20), 16, 30).num_chunks == 0


def test_training_running_lengths_are_those_serving_produces():
    rng = random.Random(0)
    lengths = {sample_running_length(8, 20, rng) for _ in range(500)}
    assert lengths == set(range(13, 21))  # (upper_window - chunk_size, upper_window]
    doc = torch.arange(3000)
    for ex in chunk_document(doc, n_chunks=3, chunk_size=8, upper_len=20, seed=1):
        assert 13 <= ex.input_ids.numel() <= 20 or ex.context_input_ids.shape[0] < 3
        served = layout_prompt(torch.cat([ex.context_input_ids.flatten(), ex.input_ids]), 8, 20)
        assert torch.equal(served.context, ex.context_input_ids)  # the serving layout of the same tokens


def test_chunk_document_windows_do_not_overlap_and_the_tail_has_fewer_chunks():
    doc = torch.arange(2 * (3 * 8 + 10) + 8 + 10)
    examples = chunk_document(doc, n_chunks=3, chunk_size=8, upper_len=10)
    assert [ex.context_input_ids.shape[0] for ex in examples][:2] == [3, 3]
    seen = torch.cat([torch.cat([ex.context_input_ids.flatten(), ex.input_ids]) for ex in examples])
    assert seen.tolist() == doc[: seen.numel()].tolist()


def test_max_chunks_drops_whole_chunks_from_the_start():
    ex = layout_example(torch.arange(100), chunk_size=16, upper_window=30, max_chunks=2)
    assert ex.context_input_ids.flatten().tolist() == list(range(48, 80))


def test_query_span_ends_before_the_last_answer():
    labels = torch.tensor([IGNORE_INDEX] * 3 + [5, 6] + [IGNORE_INDEX] * 4 + [7, 8, 9])
    assert query_end_before_answer(labels) == 8  # the last prompt token before the answer 7, 8, 9
    ids = torch.arange(40)
    chat_labels = torch.full((40,), IGNORE_INDEX)
    chat_labels[30:] = ids[30:]
    ex = layout_example(ids, 8, 20, chat_labels, query_before_answer=True)
    assert int(ex.input_ids[ex.query_end]) == 29 and int(ex.labels[ex.query_end]) == IGNORE_INDEX


def test_collate_pads_chunks_and_upper_text_with_masks():
    a = layout_example(torch.arange(40), chunk_size=8, upper_window=16)  # 3 chunks, 16 up
    b = layout_example(torch.arange(20), chunk_size=8, upper_window=12, query_before_answer=True)
    batch = collate_chunked([a, b], pad_token_id=0)
    assert batch["context_input_ids"].shape == (2, 3, 8)
    assert batch["context_mask"].tolist() == [[True, True, True], [True, False, False]]
    assert batch["attention_mask"].sum(1).tolist() == [16, 12]
    assert (batch["labels"][1, 12:] == IGNORE_INDEX).all()
    assert torch.equal(batch["context_input_ids"][1, 0], b.context_input_ids[0])
    assert batch["query_positions"].tolist() == [15, b.query_end]
