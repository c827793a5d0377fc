"""Fixtures: tiny real models (built from configs, nothing downloaded), a real uvicorn server on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest
import torch
from openai import OpenAI
from transformers import LlamaConfig, LlamaForCausalLM

from sharedllm_chat.background_server import serve_in_thread
from sharedllm_chat.engine.loader import LoadedModel, load_model, wrap_model
from sharedllm_chat.engine.tokenizer import build_byte_tokenizer
from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings

MODEL = "test-model"


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads and lose a lot to them on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer():
    return build_byte_tokenizer()


@pytest.fixture(scope="session")
def llama_loaded(tokenizer) -> LoadedModel:
    """A tiny random Llama served as is (full attention: the service's path for plain causal LMs)."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return wrap_model(LlamaForCausalLM(config), tokenizer, Settings(served_model_name=MODEL))


@pytest.fixture(scope="session")
def sharedllm_loaded() -> LoadedModel:
    """The embedded default: a tiny random SharedLLM (256-token chunks, 1024-token upper window)."""
    return load_model(Settings(served_model_name="sharedllm-tiny", chunk_size=256, upper_window=1024))


@contextlib.contextmanager
def serve(settings: Settings, loaded: LoadedModel) -> Iterator[str]:
    with serve_in_thread(create_app(settings, loaded)) as url:
        yield url


def openai_client(base_url: str) -> OpenAI:
    # No retries: a 429 must reach the test as a 429.
    return OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def llama_server(llama_loaded) -> Iterator[str]:
    settings = Settings(
        served_model_name=MODEL,
        max_input_tokens=20_000,
        max_tokens_limit=4000,
        default_max_tokens=32,
        max_queue=16,
        max_active=4,
    )
    with serve(settings, llama_loaded) as url:
        yield url


@pytest.fixture()
def client(llama_server) -> OpenAI:
    return openai_client(llama_server)


@pytest.fixture()
def http(llama_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=llama_server, timeout=60) as c:
        yield c
