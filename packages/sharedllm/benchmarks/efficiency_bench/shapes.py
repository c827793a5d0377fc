"""Model shapes the benchmark runs: random weights are enough to measure speed and memory."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import LlamaConfig


@dataclass(frozen=True)
class BenchShape:
    name: str
    base: dict
    sharedllm: dict = field(default_factory=dict)
    lengths: tuple[int, ...] = ()

    def base_config(self) -> LlamaConfig:
        return LlamaConfig(**self.base)


SHAPES = {
    # A few seconds on CPU: what the unit test runs to check the script end to end.
    "tiny": BenchShape(
        "tiny",
        dict(
            vocab_size=256,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=1 << 20,
        ),
        dict(num_injection_layers=2, chunk_size=128, kv_per_node=8, upper_window=256, encode_batch_chunks=2),
        (512, 1024),
    ),
    # CPU benchmark: a small Llama with the paper's tree settings (1024-token chunks keep 128 KVs).
    "small": BenchShape(
        "small",
        dict(
            vocab_size=4096,
            hidden_size=256,
            intermediate_size=688,
            num_hidden_layers=4,
            num_attention_heads=8,
            num_key_value_heads=8,
            max_position_embeddings=1 << 20,
        ),
        dict(
            num_injection_layers=2, chunk_size=1024, kv_per_node=32, upper_window=2048, encode_batch_chunks=2
        ),
        (4096, 8192, 16384, 32768, 65536),
    ),
    # One 80 GB GPU, bf16: Llama-2-7B's shape, M = 4 as in the paper's language modelling, 4K upper window.
    "7b-shape": BenchShape(
        "7b-shape",
        dict(
            vocab_size=32000,
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
            max_position_embeddings=1 << 20,
        ),
        dict(
            num_injection_layers=4, chunk_size=1024, kv_per_node=32, upper_window=4096, encode_batch_chunks=8
        ),
        (8192, 16384, 32768, 65536, 131072, 262144, 524288),
    ),
}
