import pytest
import torch

from sharedllm.evaluation.passkey import (
    PasskeyTemplate,
    generate_answer,
    passkey_accuracy,
    passkey_prompt,
    plot_passkey,
)
from sharedllm.tiny import tiny_base_model, tiny_sharedllm


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_prompt_has_the_length_and_the_needle_at_its_depth(tokenizer, depth):
    template = PasskeyTemplate.text()
    ids = passkey_prompt(tokenizer, template, 600, depth, "48213")
    text = tokenizer.decode(ids)
    assert 560 <= ids.numel() <= 600
    assert text.count("48213") == 2 and text.endswith(template.question)
    before = text[: text.index("The pass key is 48213")].count(template.filler)
    assert before / text.count(template.filler) == pytest.approx(depth, abs=0.05)


def test_prompt_too_short_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="too short"):
        passkey_prompt(tokenizer, PasskeyTemplate.python(), 5, 0.5, "12345")


def test_sharedllm_generation_reads_the_context_chunks_through_a_cache():
    """The sharedllm method puts the prompt's past into a ContextCache and generates from the window."""
    model = tiny_sharedllm(seed=0, chunk_size=32, upper_window=64)
    prompt = torch.randint(3, 256, (200,), generator=torch.Generator().manual_seed(0))
    caches = []
    new_cache = model.new_context_cache

    def recording():
        caches.append(new_cache())
        return caches[-1]

    model.new_context_cache = recording
    answer = generate_answer("sharedllm", prompt, max_new_tokens=3, window=64, model=model)
    # The serving layout: 200 + 3 new tokens over a 64-token window -> ceil(139 / 32) = 5 chunks, 40 up.
    assert len(answer) == 3 and caches[0].num_chunks == 5 and caches[0].encode_calls == 1
    # Untrained (o_proj = 0), SharedLLM generates exactly what its base model generates from the running text.
    base = tiny_base_model(seed=0)
    assert answer == generate_answer("truncated", prompt, max_new_tokens=3, window=40, model=base)


def test_accuracy_grid_and_heat_map(tokenizer, tmp_path):
    model = tiny_base_model(seed=0, vocab_size=len(tokenizer))
    lengths, depths = [128, 256], [0.0, 1.0]
    grid = passkey_accuracy(
        model, tokenizer, "full", lengths, depths, trials=2, window=64, template=PasskeyTemplate.python()
    )
    assert len(grid) == 2 and all(len(row) == 2 for row in grid)
    assert all(0.0 <= v <= 1.0 for row in grid for v in row)
    assert plot_passkey(grid, lengths, depths, tmp_path / "passkey.png").stat().st_size > 0
