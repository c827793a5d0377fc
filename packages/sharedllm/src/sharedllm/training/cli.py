"""`sharedllm train ...`: tokenizer, base pretraining, SharedLLM continual pretraining, chat tuning.

base, lm and chat read one `TrainSettings` (training/settings.py): the command's defaults, a TOML/JSON file
(`--config`) and `--set key=value` overrides. Multi-GPU without code changes: `accelerate launch -m
sharedllm.cli train lm ...` (DDP or FSDP per the accelerate config).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sharedllm.cli_common import DATA_HELP, fail, read_documents
from sharedllm.settings import settings_dict
from sharedllm.training.settings import TrainSettings, train_settings

app = typer.Typer(
    help="Train: a tokenizer, a base model, SharedLLM on long documents, or on chats.", no_args_is_help=True
)

OUT = typer.Option(..., help="Output directory (checkpoints, final/, loss_curve.png, settings.json).")
CONFIG = typer.Option(None, "--config", help="A TOML or JSON file of TrainSettings values.")
SET = typer.Option(
    [], "--set", help="Override a setting: --set steps=200 --set selection_policy=query --set base.window=256"
)
MODEL = typer.Argument(..., help="A SharedLLM checkpoint, or a base causal LM checkpoint to build one from.")


def _settings(command: str, config: Path | None, overrides: list[str]) -> TrainSettings:
    try:
        return train_settings(command, config, overrides)
    except ValueError as exc:
        fail(str(exc))


def _documents(s: TrainSettings) -> list[str]:
    return read_documents(s.data, s.kind, s.text_field, s.pattern, s.limit)[0]


def _loop_config(s: TrainSettings, out: Path):
    try:
        return s.loop_config(out)
    except ValueError as exc:
        fail(str(exc))


def _record(s: TrainSettings, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "settings.json").write_text(json.dumps(settings_dict(s), indent=1))


@app.command()
def tokenizer(
    out: Path = typer.Option(..., help="Directory for the tokenizer."),
    data: str = typer.Option("python", help=DATA_HELP),
    vocab_size: int = typer.Option(4096, min=260),
    kind: str = typer.Option("auto", help="auto, hf, files or sharelm."),
    text_field: str = typer.Option("text", help="Text column of a dataset."),
    pattern: str = typer.Option("**/*.txt", help="File glob when --data is a directory."),
    limit: int | None = typer.Option(None, help="Use at most this many documents."),
) -> None:
    """Train a byte-level BPE tokenizer offline."""
    from sharedllm.data.tokenizer import train_bpe_tokenizer

    tok = train_bpe_tokenizer(read_documents(data, kind, text_field, pattern, limit)[0], vocab_size)
    tok.save_pretrained(out)
    typer.echo(f"tokenizer with {len(tok)} tokens saved to {out}")


@app.command()
def base(
    tokenizer_dir: Path = typer.Option(..., "--tokenizer", exists=True, help="A tokenizer directory."),
    out: Path = OUT,
    config: Path | None = CONFIG,
    overrides: list[str] = SET,
) -> None:
    """Pretrain a small Llama base model from scratch (the offline stand-in for a hub checkpoint);
    settings: data, the loop's, and base.hidden_size / num_layers / num_heads / intermediate_size / window."""
    from transformers import AutoTokenizer

    from sharedllm.data.tokenized import tokenize_documents
    from sharedllm.training.base import PackedBlocks, collate_blocks
    from sharedllm.training.loop import train

    s = _settings("base", config, overrides)
    cfg = _loop_config(s, out)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    docs = tokenize_documents(tok, _documents(s))
    try:
        dataset = PackedBlocks(docs, s.base.window, tok.eos_token_id)
        if s.copy_mix:
            dataset = mix_copy_blocks(dataset, tok, s)
        model = _base_model(tok, s)
    except ValueError as exc:
        fail(str(exc))
    _record(s, out)
    result = train(model, dataset, collate_blocks, cfg, description="base pretraining")
    tok.save_pretrained(result.final_dir)
    typer.echo(f"final loss {result.final_loss:.3f}; model in {result.final_dir}; curve {result.loss_curve}")


def _base_model(tok, s: TrainSettings):
    """A fresh base of shape `s.base`, or the `init` checkpoint trained further (a curriculum's stage)."""
    from transformers import AutoModelForCausalLM

    from sharedllm.training.base import build_base_model

    if s.init is None:
        ids = (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id)
        return build_base_model(len(tok), s.base, *ids, s.seed)
    if not (Path(s.init) / "config.json").is_file():
        raise ValueError(f"init {s.init} is not a model checkpoint (no config.json)")
    model = AutoModelForCausalLM.from_pretrained(s.init)
    window = model.config.max_position_embeddings
    if window != s.base.window:
        raise ValueError(f"init {s.init} has window {window}, but base.window is {s.base.window}")
    return model


def mix_copy_blocks(dataset, tok, s: TrainSettings):
    """The documents' blocks plus the copy curriculum, `copy_mix` of the total."""
    import torch

    from sharedllm.data.retrieval import copy_blocks

    if not 0.0 <= s.copy_mix < 1.0:
        raise ValueError(f"copy_mix must be in [0, 1), got {s.copy_mix}")
    n = round(len(dataset) * s.copy_mix / (1.0 - s.copy_mix))
    extra = copy_blocks(
        tok,
        n,
        s.base.window,
        s.retrieval_templates,
        repeat_fraction=s.copy_repeat_fraction,
        period_fraction=s.copy_period_fraction,
        seed=s.seed + 104729,
    )
    typer.echo(f"{len(dataset)} document blocks + {n} copy-curriculum blocks ({s.copy_mix:.0%})")
    dataset.blocks = torch.cat([dataset.blocks, extra])
    return dataset


def load_sharedllm(model: str, s: TrainSettings):
    """A SharedLLM checkpoint (its selection policy, split noise and chunk positions set from `s`), or a
    new SharedLLM built around a base causal LM checkpoint."""
    from transformers import AutoConfig

    from sharedllm import SharedLLMForCausalLM

    if AutoConfig.from_pretrained(model).model_type != "sharedllm":
        return SharedLLMForCausalLM.from_base(model, **s.sharedllm_kwargs())
    loaded = SharedLLMForCausalLM.from_pretrained(model)
    loaded.config.chunk_positions = s.chunk_positions
    loaded.set_selection(s.selection_policy, s.split_noise_sigma)
    return loaded


def _run_sharedllm(model_path: str, tok, dataset, s: TrainSettings, out: Path, description: str) -> None:
    from sharedllm import apply_trainable_preset
    from sharedllm.data.chunking import collate_chunked
    from sharedllm.training.loop import train

    cfg = _loop_config(s, out)
    try:
        model = load_sharedllm(model_path, s)
        n = apply_trainable_preset(model, s.preset)
    except ValueError as exc:
        fail(str(exc))
    policy = f"{model.config.selection_policy} policy, split noise {model.config.split_noise_sigma:g}"
    typer.echo(f"{len(dataset)} examples, {n:,} trainable parameters ({s.preset}), {policy}")
    _record(s, out)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    result = train(model, dataset, lambda b: collate_chunked(b, pad), cfg, description=description)
    tok.save_pretrained(result.final_dir)
    typer.echo(f"final loss {result.final_loss:.3f}; model in {result.final_dir}; curve {result.loss_curve}")


def mix_retrieval(dataset, tok, s: TrainSettings):
    """The language-modelling examples plus synthetic retrieval examples, `retrieval_mix` of the total."""
    from sharedllm.data.datasets import ChunkedDataset
    from sharedllm.data.retrieval import retrieval_examples

    if not 0.0 <= s.retrieval_mix < 1.0:
        raise ValueError(f"retrieval_mix must be in [0, 1), got {s.retrieval_mix}")
    n = round(len(dataset) * s.retrieval_mix / (1.0 - s.retrieval_mix))
    extra = retrieval_examples(
        tok, n, s.chunks, s.chunk_size, s.upper_len, s.retrieval_templates, seed=s.seed + 7919
    )
    typer.echo(f"{len(dataset)} language-modelling + {n} retrieval examples ({s.retrieval_mix:.0%})")
    return ChunkedDataset(list(dataset.examples) + extra)


@app.command()
def lm(model: str = MODEL, out: Path = OUT, config: Path | None = CONFIG, overrides: list[str] = SET) -> None:
    """Continual pretraining on long documents: `chunks` context chunks + a running text per example, laid
    out as serving lays out a prompt."""
    from transformers import AutoTokenizer

    from sharedllm.data.datasets import lm_examples
    from sharedllm.data.tokenized import tokenize_documents

    s = _settings("lm", config, overrides)
    tok = AutoTokenizer.from_pretrained(model)
    docs = tokenize_documents(tok, _documents(s))
    try:
        dataset = lm_examples(docs, s.chunks, s.chunk_size, s.upper_len, seed=s.seed)
        if s.retrieval_mix:
            dataset = mix_retrieval(dataset, tok, s)
    except ValueError as exc:
        fail(str(exc))
    _run_sharedllm(model, tok, dataset, s, out, "SharedLLM continual pretraining")


@app.command()
def chat(
    model: str = MODEL, out: Path = OUT, config: Path | None = CONFIG, overrides: list[str] = SET
) -> None:
    """Instruction tuning on chats (data: a ShareLM export, save_dataset dir or JSONL, or 'chatterbot'): the
    model's chat template, loss on assistant replies only, the query span ending before the last answer."""
    from transformers import AutoTokenizer

    from sharedllm.data.chat import conversation_messages, encode_chat
    from sharedllm.data.datasets import chat_examples
    from sharedllm.data.tokenizer import DEFAULT_CHAT_TEMPLATE

    s = _settings("chat", config, overrides)
    try:
        if s.data == "chatterbot":
            from sharelm.sources.chatterbot import load_corpus

            convs = list(load_corpus())
        else:
            from sharelm.export import load_conversations

            convs = list(load_conversations(s.data))
    except (FileNotFoundError, ValueError) as exc:
        fail(f"cannot read --data {s.data}: {exc}")
    tok = AutoTokenizer.from_pretrained(model)
    if tok.chat_template is None:
        tok.chat_template = DEFAULT_CHAT_TEMPLATE
    encoded = [encode_chat(tok, conversation_messages(c)) for c in convs[: s.limit]]
    try:
        dataset = chat_examples(encoded, s.chunk_size, s.upper_len, s.max_chunks)
    except ValueError as exc:
        fail(str(exc))
    _run_sharedllm(model, tok, dataset, s, out, "SharedLLM instruction tuning")
