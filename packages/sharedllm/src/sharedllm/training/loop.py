"""One training loop for every stage (base pretraining, SharedLLM continual pretraining, chat tuning).

nanoGPT-plain, with accelerate doing the device/precision/distribution work, so the same code runs on one
CPU, one GPU, or several GPUs under `accelerate launch` (DDP or FSDP from the accelerate config).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DataLoaderConfiguration, set_seed
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"


@dataclass
class TrainConfig:
    output_dir: Path
    max_steps: int = 1000  # optimizer steps
    batch_size: int = 8  # per device, per micro-step
    grad_accum: int = 1
    lr: float = 3e-4
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_ratio: float = 0.01
    max_grad_norm: float = 1.0
    bf16: bool = False
    gradient_checkpointing: bool = False
    save_every: int = 0  # optimizer steps between checkpoints; 0 saves only at the end
    keep_checkpoints: int = 2
    log_every: int = 1
    resume: bool = True  # continue from the latest checkpoint in output_dir when there is one
    seed: int = 0

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        for name in ("max_steps", "batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


@dataclass
class TrainResult:
    steps: int
    final_dir: Path
    history: list[dict] = field(default_factory=list)
    loss_curve: Path | None = None

    @property
    def final_loss(self) -> float:
        return self.history[-1]["loss"] if self.history else math.nan


def batch_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Tokens the model reads in a batch: real upper tokens plus real context chunks."""
    mask = batch.get("attention_mask")
    n = int(mask.sum()) if mask is not None else batch["input_ids"].numel()
    if "context_mask" in batch:
        n += int(batch["context_mask"].sum()) * batch["context_input_ids"].shape[-1]
    return n


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices only (not norms or biases), and only what is trainable (presets freeze the rest)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise ValueError("the model has no trainable parameters")
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def latest_checkpoint(output_dir: Path) -> Path | None:
    ckpts = sorted((output_dir / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return ckpts[-1] if ckpts else None


def _save_checkpoint(accelerator: Accelerator, cfg: TrainConfig, step: int, history: list[dict]) -> None:
    path = cfg.output_dir / CHECKPOINTS / f"step-{step}"
    accelerator.save_state(str(path))  # model, optimizer, scheduler and RNG states
    if accelerator.is_main_process:
        (path / STATE_FILE).write_text(json.dumps({"step": step, "history": history}))
        old = sorted((cfg.output_dir / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
        for stale in old[: -cfg.keep_checkpoints]:
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()


def plot_loss_curve(history: list[dict], path: Path, title: str = "training loss") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    steps = [h["step"] for h in history]
    ax.plot(steps, [h["loss"] for h in history], lw=1, alpha=0.5, label="loss")
    if len(history) >= 10:  # a running mean makes the trend readable through batch noise
        k = max(len(history) // 20, 2)
        smooth = [
            sum(h["loss"] for h in history[max(0, i - k + 1) : i + 1]) / min(k, i + 1)
            for i in range(len(history))
        ]
        ax.plot(steps, smooth, lw=2, label=f"mean of {k}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def train(
    model: torch.nn.Module,
    dataset: Dataset,
    collate_fn: Callable[[list], dict[str, torch.Tensor]],
    cfg: TrainConfig,
    description: str = "train",
    on_step: Callable[[int, torch.nn.Module, dict], None] | None = None,
) -> TrainResult:
    """Train for cfg.max_steps optimizer steps (the data repeats in fresh shuffles as needed).

    on_step(step, model, record) runs after every optimizer step (the unwrapped model, in train mode, and
    the step's history record): probes that a sweep logs as it goes.
    """
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    # Accelerate keeps its settings in a process-wide singleton; one process may run several stages (the
    # quality bench, tests) with different precisions, so start each from fresh settings (the process
    # group, if any, is kept).
    AcceleratorState._reset_state()
    accelerator = Accelerator(
        gradient_accumulation_steps=cfg.grad_accum,
        mixed_precision="bf16" if cfg.bf16 else "no",
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    set_seed(cfg.seed)
    if cfg.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if hasattr(model, "config"):
        model.config.use_cache = False
    loader = DataLoader(
        dataset, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate_fn, drop_last=True
    )
    if len(loader) == 0:
        raise ValueError(f"dataset has {len(dataset)} examples, fewer than one batch of {cfg.batch_size}")
    optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas)
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, math.ceil(cfg.warmup_ratio * cfg.max_steps), cfg.max_steps
    )
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)

    step, history = 0, []
    ckpt = latest_checkpoint(cfg.output_dir) if cfg.resume else None
    if ckpt is not None:
        accelerator.load_state(str(ckpt))
        state = json.loads((ckpt / STATE_FILE).read_text())
        step, history = state["step"], state["history"]

    micro = step * cfg.grad_accum  # micro-batches already consumed (identical order after a resume)
    epoch, skip = divmod(micro, len(loader))
    bar = tqdm(
        total=cfg.max_steps, initial=step, desc=description, disable=not accelerator.is_local_main_process
    )
    model.train()
    t0, tokens, window_loss, window_n = time.perf_counter(), 0, 0.0, 0
    while step < cfg.max_steps:
        loader.set_epoch(epoch)
        epoch_loader = accelerator.skip_first_batches(loader, skip) if skip else loader
        skip = 0
        for batch in epoch_loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            tokens += batch_tokens(batch) * accelerator.num_processes
            window_loss += loss.detach().float().item()
            window_n += 1
            if not accelerator.sync_gradients:
                continue
            step += 1
            elapsed = time.perf_counter() - t0
            history.append(
                {
                    "step": step,
                    "loss": window_loss / window_n,
                    "lr": scheduler.get_last_lr()[0],
                    "tokens": tokens,
                }
            )
            window_loss, window_n = 0.0, 0
            bar.update(1)
            if on_step is not None:
                on_step(step, accelerator.unwrap_model(model), history[-1])
                model.train()
            if step % cfg.log_every == 0:
                bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", tok_s=f"{tokens / max(elapsed, 1e-9):.0f}")
            if cfg.save_every and step % cfg.save_every == 0 and step < cfg.max_steps:
                _save_checkpoint(accelerator, cfg, step, history)
            if step >= cfg.max_steps:
                break
        epoch += 1
    bar.close()

    _save_checkpoint(accelerator, cfg, step, history)
    final_dir = cfg.output_dir / "final"
    result = TrainResult(steps=step, final_dir=final_dir, history=history)
    state_dict = accelerator.get_state_dict(model)  # a collective under FSDP: every rank calls it
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        unwrapped.config.use_cache = True
        unwrapped.save_pretrained(final_dir, state_dict=state_dict)
        (cfg.output_dir / "history.json").write_text(json.dumps(history))
        (cfg.output_dir / "train_config.json").write_text(json.dumps(asdict(cfg), default=str, indent=1))
        result.loss_curve = plot_loss_curve(history, cfg.output_dir / "loss_curve.png", description)
    accelerator.wait_for_everyone()
    return result
