import sysconfig
from pathlib import Path

import pytest
import torch

from sharedllm.tiny import randomize_injection, tiny_sharedllm


@pytest.fixture(scope="module")
def model():
    return randomize_injection(tiny_sharedllm("llama"))


@pytest.fixture
def tokens():
    generator = torch.Generator().manual_seed(0)

    def make(*shape):
        return torch.randint(3, 256, shape, generator=generator)

    return make


# Real code from the standard library, linked package by package: a corpus that exists on every machine.
STDLIB_PACKAGES = (
    "json",
    "email",
    "http",
    "urllib",
    "logging",
    "concurrent",
    "collections",
    "html",
    "wsgiref",
    "xmlrpc",
    "dbm",
    "tomllib",
    "zoneinfo",
    "curses",
)


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)  # tiny models: threads only add overhead on a shared CPU


@pytest.fixture(scope="session")
def code_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site-packages")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in STDLIB_PACKAGES:
        (root / name).symlink_to(stdlib / name, target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def tokenizer(code_root):
    from sharedllm.data.tokenizer import train_bpe_tokenizer

    texts = [p.read_text() for p in sorted((code_root / "json").glob("*.py"))]
    return train_bpe_tokenizer(texts, vocab_size=512)
