"""The model comes from settings: a saved SharedLLM checkpoint (`from_pretrained`) or a base checkpoint
wrapped on load (`from_base`), each with the tokenizer saved next to it. Built from tiny configs, saved to a
temporary folder, loaded back through the service's own loader."""

from __future__ import annotations

import torch
from transformers import AutoTokenizer

from sharedllm_chat.engine.loader import build_embedded_base, build_embedded_model, load_model
from sharedllm_chat.settings import Settings


def _greedy(loaded, text: str, n: int = 8) -> list[int]:
    ids = torch.tensor([loaded.tokenizer.encode(text, add_special_tokens=False)])
    with torch.inference_mode():
        out = loaded.model.generate(ids, max_new_tokens=n, do_sample=False)
    return out[0, ids.shape[1] :].tolist()


def test_from_pretrained_and_from_base_checkpoints(tmp_path):
    settings = Settings(chunk_size=256, embedded_layers=2)
    model, tokenizer = build_embedded_model(settings)
    model.save_pretrained(tmp_path / "sharedllm")
    tokenizer.save_pretrained(tmp_path / "sharedllm")
    build_embedded_base(settings, tokenizer).save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")

    saved = load_model(Settings(model_path=str(tmp_path / "sharedllm"), served_model_name="m"))
    assert saved.supports_context and saved.chunk_size == 256
    assert saved.tokenizer.chat_template == tokenizer.chat_template
    assert isinstance(saved.tokenizer, type(AutoTokenizer.from_pretrained(tmp_path / "sharedllm")))
    reference = load_model(settings)  # the same seeded weights, built in memory
    assert _greedy(saved, "hello") == _greedy(reference, "hello")

    wrapped = load_model(Settings(base_model=str(tmp_path / "base"), chunk_size=256, upper_window=512))
    assert wrapped.supports_context and wrapped.upper_window == 512
    # An untrained SharedLLM is its base model (cross-attention o_proj starts at zero): same greedy text.
    assert _greedy(wrapped, "hello") == _greedy(reference, "hello")
