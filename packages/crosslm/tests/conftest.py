"""Shared fixtures: a small generated world exported through sharelm, and tiny models built from configs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crosslm.models.tiny import build_tiny_causal_lm, build_tiny_classifier
from sharelm.export import save_dataset

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))  # the world lives with the benches
from response_world import TEMPLATE, make_response_world  # noqa: E402
from world import make_world  # noqa: E402


@pytest.fixture(scope="session")
def world_run(tmp_path_factory) -> dict[str, Path | str]:
    """An export of 160 labelled conversations, general text, a tiny GPT-2 LLM and BERT + GPT-2 SLMs."""
    root = tmp_path_factory.mktemp("world")
    world = make_world(num_topics=3, words_per_topic=30, seed=1)
    save_dataset(world.conversations(160, seed=2), root / "export")
    corpus = world.public_corpus(n_headed=300, n_general=100, header_noise=0.3, seed=3)
    general = root / "general.txt"
    general.write_text("\n".join(world.general_text(50, seed=4)) + "\n")
    llm = build_tiny_causal_lm(root / "llm", "gpt2", corpus, hidden=32, pretrain_epochs=1, batch_size=32)
    texts = [c.split(" : ", 1)[-1] for c in corpus]
    slms = [
        build_tiny_classifier(root / f"slm-{fam}", fam, texts, world.topics, hidden=32, seed=i)
        for i, fam in enumerate(("bert", "gpt2"))
    ]
    return {
        "root": root,
        "export": root / "export",
        "general": general,
        "llm": llm,
        "slms": ",".join(map(str, slms)),
        "labels": ",".join(world.topics),
    }


@pytest.fixture(scope="session")
def rated_run(tmp_path_factory) -> dict[str, Path | str]:
    """A collector-style JSONL export of rated conversations (3 contributors), the server's prompt set,
    general text, a tiny LLM pretrained on public dialogs and BERT + GPT-2 reward models."""
    root = tmp_path_factory.mktemp("rated")
    world = make_response_world(seed=3)
    save_dataset(world.conversations(3, 24, seed=4), root / "export.jsonl")
    (root / "prompts.txt").write_text("\n".join(world.prompts(40, seed=5)) + "\n")
    general = root / "general.txt"
    general.write_text("\n".join(world.general_text(50, seed=6)) + "\n")
    corpus = world.public_corpus(200, 100, seed=7)
    llm = build_tiny_causal_lm(root / "llm", "gpt2", corpus, hidden=32, pretrain_epochs=1, batch_size=32)
    texts = [d.replace("user : ", "").replace(" assistant : ", " || ") for d in corpus]
    slms = [
        build_tiny_classifier(root / f"rm-{fam}", fam, texts, ["disliked", "liked"], hidden=32, seed=i)
        for i, fam in enumerate(("bert", "gpt2"))
    ]
    return {
        "root": root,
        "world": world,
        "export": root / "export.jsonl",
        "prompts": root / "prompts.txt",
        "general": general,
        "llm": llm,
        "slms": ",".join(map(str, slms)),
        "template": TEMPLATE,
    }
