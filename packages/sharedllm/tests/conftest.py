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
