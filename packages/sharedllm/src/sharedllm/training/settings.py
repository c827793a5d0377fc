"""TrainSettings: everything `sharedllm train base|lm|chat` reads, one object from a file + `--set`.

sharedllm train lm runs/base/final --out runs/sllm --config lm.toml --set steps=200 --set lr=5e-5
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from sharedllm.settings import apply_overrides, load_settings_file
from sharedllm.training.base import BaseShape
from sharedllm.training.loop import TrainConfig


@dataclass
class TrainSettings:
    # data (see `sharedllm.cli_common.DATA_HELP`)
    data: str = "python"
    kind: str = "auto"  # auto, hf, files or sharelm
    text_field: str = "text"
    pattern: str = "**/*.txt"
    limit: int | None = None
    # the loop (sharedllm.training.loop.TrainConfig)
    steps: int = 1000
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.1
    betas: tuple[float, ...] = (0.9, 0.999)
    warmup_ratio: float = 0.01
    max_grad_norm: float = 1.0
    bf16: bool = False
    gradient_checkpointing: bool = False
    save_every: int = 0
    resume: bool = True
    seed: int = 0
    # `train base`: the model trained from scratch
    base: BaseShape = BaseShape()
    # `train base`: this fraction of the blocks are the copy curriculum (`sharedllm.data.retrieval.
    # copy_blocks`: repeated random spans or patterns, in-window passkey prompts in `retrieval_templates`),
    # which a tiny base needs before any retrieval stage can work. 0: the documents only.
    copy_mix: float = 0.0
    copy_repeat_fraction: float = 0.3  # of the curriculum: repeated random spans (the rest: passkey prompts)
    copy_period_fraction: float = 0.3  # of those, the share that are short patterns repeated (2-3 tokens)
    init: str | None = None  # `train base`: start from this base checkpoint (a staged curriculum), not anew
    # SharedLLM built around a base model (selection_policy, split_noise_sigma and chunk_positions also
    # apply to a SharedLLM checkpoint that is trained further)
    injection_layers: int = 4
    inject_at: list[int] | None = None  # other layers than the bottom M (the paper's ablation)
    chunk_size: int = 1024
    kv_per_node: int = 32
    tree_height: int = 3
    upper_len: int = 4096
    selection_policy: str = "right"  # right (language modelling) or query (question answering)
    split_noise_sigma: float = 0.2  # the paper: l/5 for language modelling, l/10 for instruction tuning
    chunk_positions: bool = True
    preset: str = "paper"  # trainable parameters: paper, cross_attention or all
    chunks: int = 4  # `train lm`: context chunks per example
    # `train lm`: this fraction of the examples are synthetic retrieval examples (a key hidden far back in
    # text, or a constant defined far back in code; loss on the answer, the query at the question's end),
    # with 1..chunks context chunks (`sharedllm.data.retrieval`). 0: language modelling only.
    retrieval_mix: float = 0.0
    retrieval_templates: list[str] = field(default_factory=lambda: ["text", "python"])
    max_chunks: int | None = 16  # `train chat`: most recent chunks kept per chat

    def loop_config(self, out: Path) -> TrainConfig:
        return TrainConfig(
            output_dir=out,
            max_steps=self.steps,
            batch_size=self.batch_size,
            grad_accum=self.grad_accum,
            lr=self.lr,
            weight_decay=self.weight_decay,
            betas=tuple(self.betas),
            warmup_ratio=self.warmup_ratio,
            max_grad_norm=self.max_grad_norm,
            bf16=self.bf16,
            gradient_checkpointing=self.gradient_checkpointing,
            save_every=self.save_every,
            resume=self.resume,
            seed=self.seed,
        )

    def sharedllm_kwargs(self) -> dict:
        """`SharedLLMForCausalLM.from_base` settings."""
        return {
            "num_injection_layers": self.injection_layers,
            "injection_layers": self.inject_at,
            "chunk_size": self.chunk_size,
            "kv_per_node": self.kv_per_node,
            "tree_height": self.tree_height,
            "upper_window": self.upper_len,
            "selection_policy": self.selection_policy,
            "split_noise_sigma": self.split_noise_sigma,
            "chunk_positions": self.chunk_positions,
        }


# Each command's defaults: the paper's settings where it has them.
COMMAND_DEFAULTS = {
    "base": {"lr": 1e-3},
    "lm": {"lr": 1e-4, "split_noise_sigma": 0.2},
    "chat": {"lr": 2e-5, "chunk_size": 512, "upper_len": 1024, "split_noise_sigma": 0.1},
}


def train_settings(command: str, config: Path | None = None, overrides: list[str] = ()) -> TrainSettings:
    """The command's defaults, then the file's values, then the `--set` overrides."""
    settings = replace(TrainSettings(), **COMMAND_DEFAULTS[command])
    if config is not None:
        load_settings_file(settings, config)
    return apply_overrides(settings, list(overrides))
