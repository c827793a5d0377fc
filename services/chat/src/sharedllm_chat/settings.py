"""Service settings, read from the environment (prefix `SHAREDLLM_CHAT_`) or passed in by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAREDLLM_CHAT_", env_file=".env", extra="ignore")

    # Which model: a SharedLLM checkpoint (`model_path`), a base checkpoint turned into one (`base_model`),
    # or neither: the embedded default, so that `serve` runs with no setup and no download. That is the
    # small trained chat model shipped in `sharedllm.chat_model` (`embedded_model="trained"`), or a tiny
    # random SharedLLM made on the spot ("random"; also when any of its shape knobs below is set).
    model_path: str | None = None
    base_model: str | None = None
    tokenizer_path: str | None = Field(None, description="defaults to the model's own directory")
    served_model_name: str = "sharedllm-tiny"
    embedded_model: Literal["trained", "random"] = "trained"
    # from_base / embedded-default knobs (a checkpoint carries its own; upper_window, if set, overrides it).
    num_injection_layers: int = Field(2, ge=1)
    chunk_size: int = Field(256, ge=8)
    kv_per_node: int = Field(
        8, ge=1, description="256-token chunks keep 4 x 8 KVs: compression 8, as the paper"
    )
    upper_window: int | None = Field(None, ge=16, description="tokens kept in the upper model's running text")
    embedded_hidden_size: int = Field(64, ge=8)
    embedded_layers: int = Field(4, ge=1)
    embedded_seed: int = 0
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    torch_threads: int | None = Field(None, ge=1)

    # Limits: anything over them is answered with a 4xx and the reason.
    max_input_tokens: int = Field(262_144, ge=1)
    max_tokens_limit: int = Field(2048, ge=1)
    default_max_tokens: int = Field(256, ge=1)
    max_queue: int = Field(64, ge=1, description="requests waiting or running before 429")
    max_active: int = Field(8, ge=1, description="requests decoding at once (continuous batching slots)")
    batch_decode: bool = Field(True, description="advance all active requests in one forward pass per token")

    # Per-conversation context caches, an LRU bounded in bytes; stored conversations, bounded in count.
    cache_max_bytes: int = Field(512 * 2**20, ge=0)
    max_conversations: int = Field(10_000, ge=1)

    # Contribution to the ShareLM collector (only for conversations whose user opted in).
    collector_url: str | None = None
    collector_token: str | None = None
    collector_timeout_s: float = Field(10.0, gt=0)
    # A failed post is retried with exponential backoff (and the collector's Retry-After), this many times
    # in all, before the contribution shows "failed" (until the next turn, rating or opt-in).
    collector_attempts: int = Field(6, ge=1)
    collector_backoff_s: float = Field(1.0, gt=0, description="first wait; doubles each retry")
    collector_backoff_max_s: float = Field(60.0, gt=0)

    # Access. Per-user keys (`api_keys`, JSON {"<key>": "<user>"}, and/or `api_keys_file`, lines of
    # "<user> <key>"): each caller owns the conversations it starts. `api_key`: one shared key, which
    # identifies nobody (conversations are then bound by their secret). None set: open, for local use.
    api_key: SecretStr | None = None
    api_keys: dict[str, str] = Field(default_factory=dict, repr=False)
    api_keys_file: Path | None = None

    # Request bodies over `max_body_bytes` get 413 before anything parses them; up to `body_drain_bytes`
    # of the rest are read (for `body_drain_s` at most) so that clients that send the whole body before
    # reading, like urllib and http.client, get the 413 rather than a reset.
    max_body_bytes: int = Field(8 * 2**20, ge=1024)
    body_drain_bytes: int = Field(64 * 2**20, ge=0)
    body_drain_s: float = Field(10.0, ge=0)

    host: str = "127.0.0.1"
    port: int = 8000

    @model_validator(mode="after")
    def _one_model_source(self) -> Settings:
        if self.model_path and self.base_model:
            raise ValueError("set either model_path (a SharedLLM checkpoint) or base_model, not both")
        return self
