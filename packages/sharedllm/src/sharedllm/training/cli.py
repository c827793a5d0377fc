"""`sharedllm train ...`: tokenizer, base pretraining, SharedLLM continual pretraining, chat tuning.

Multi-GPU without code changes: `accelerate launch -m sharedllm.cli train lm ...` (DDP or FSDP per the
accelerate config).
"""

from __future__ import annotations

from pathlib import Path

import typer

from sharedllm.training.loop import TrainConfig

app = typer.Typer(
    help="Train: a tokenizer, a base model, SharedLLM on long documents, or on chats.", no_args_is_help=True
)

DATA_HELP = (
    "Documents: 'python' (the .py files of this interpreter's site-packages, training split) or "
    "'python:DIR', a Hugging Face dataset name or save_to_disk dir, a JSONL/parquet file, a text file or "
    "directory of files, or a ShareLM export (with --kind sharelm)."
)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _train_config(
    out: Path,
    steps: int,
    batch_size: int,
    grad_accum: int,
    lr: float,
    warmup_ratio: float,
    bf16: bool,
    gradient_checkpointing: bool,
    save_every: int,
    resume: bool,
    seed: int,
) -> TrainConfig:
    try:
        return TrainConfig(
            output_dir=out,
            max_steps=steps,
            batch_size=batch_size,
            grad_accum=grad_accum,
            lr=lr,
            warmup_ratio=warmup_ratio,
            bf16=bf16,
            gradient_checkpointing=gradient_checkpointing,
            save_every=save_every,
            resume=resume,
            seed=seed,
        )
    except ValueError as exc:
        _fail(str(exc))


def read_documents(data: str, kind: str, text_field: str, pattern: str, limit: int | None) -> list[str]:
    from sharedllm.data.corpus import python_source_corpus
    from sharedllm.data.sources import load_texts

    try:
        if data == "python" or data.startswith("python:"):
            corpus = python_source_corpus(data.partition(":")[2] or None)
            return [d.text for d in corpus.train[:limit]]
        return list(load_texts(data, kind=kind, text_field=text_field, pattern=pattern, limit=limit))
    except (FileNotFoundError, ValueError) as exc:
        _fail(f"cannot read --data {data}: {exc}")


# Options shared by the training commands.
STEPS = typer.Option(1000, help="Optimizer steps.")
BATCH = typer.Option(8, help="Examples per device per micro-step.")
ACCUM = typer.Option(1, help="Gradient accumulation micro-steps per optimizer step.")
WARMUP = typer.Option(0.01, help="Warmup as a fraction of the steps (then cosine decay).")
BF16 = typer.Option(False, help="bf16 mixed precision.")
CKPT = typer.Option(False, "--gradient-checkpointing", help="Recompute activations in the backward pass.")
SAVE = typer.Option(0, help="Checkpoint every N steps (0: only at the end).")
RESUME = typer.Option(True, help="Resume from the latest checkpoint in --out when there is one.")
SEED = typer.Option(0)
KIND = typer.Option("auto", help="auto, hf, files or sharelm.")
FIELD = typer.Option("text", help="Text column of a dataset.")
PATTERN = typer.Option("**/*.txt", help="File glob when --data is a directory.")
LIMIT = typer.Option(None, help="Use at most this many documents.")


@app.command()
def tokenizer(
    out: Path = typer.Option(..., help="Directory for the tokenizer."),
    data: str = typer.Option("python", help=DATA_HELP),
    vocab_size: int = typer.Option(4096, min=260),
    kind: str = KIND,
    text_field: str = FIELD,
    pattern: str = PATTERN,
    limit: int | None = LIMIT,
) -> None:
    """Train a byte-level BPE tokenizer offline."""
    from sharedllm.data.tokenizer import train_bpe_tokenizer

    tok = train_bpe_tokenizer(read_documents(data, kind, text_field, pattern, limit), vocab_size)
    tok.save_pretrained(out)
    typer.echo(f"tokenizer with {len(tok)} tokens saved to {out}")


@app.command()
def base(
    tokenizer_dir: Path = typer.Option(..., "--tokenizer", exists=True, help="A tokenizer directory."),
    out: Path = typer.Option(..., help="Output directory (checkpoints, final/, loss_curve.png)."),
    data: str = typer.Option("python", help=DATA_HELP),
    hidden_size: int = 256,
    layers: int = 4,
    heads: int = 4,
    intermediate_size: int = 688,
    window: int = typer.Option(512, help="Training context length: the base model's window."),
    steps: int = STEPS,
    batch_size: int = BATCH,
    grad_accum: int = ACCUM,
    lr: float = 1e-3,
    warmup_ratio: float = WARMUP,
    bf16: bool = BF16,
    gradient_checkpointing: bool = CKPT,
    save_every: int = SAVE,
    resume: bool = RESUME,
    seed: int = SEED,
    kind: str = KIND,
    text_field: str = FIELD,
    pattern: str = PATTERN,
    limit: int | None = LIMIT,
) -> None:
    """Pretrain a small Llama base model from scratch (the offline stand-in for a hub checkpoint)."""
    from transformers import AutoTokenizer

    from sharedllm.data.tokenized import tokenize_documents
    from sharedllm.training.base import BaseShape, PackedBlocks, build_base_model, collate_blocks
    from sharedllm.training.loop import train

    cfg = _train_config(
        out,
        steps,
        batch_size,
        grad_accum,
        lr,
        warmup_ratio,
        bf16,
        gradient_checkpointing,
        save_every,
        resume,
        seed,
    )
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    docs = tokenize_documents(tok, read_documents(data, kind, text_field, pattern, limit))
    try:
        dataset = PackedBlocks(docs, window, tok.eos_token_id)
        model = build_base_model(
            len(tok),
            BaseShape(hidden_size, layers, heads, intermediate_size, window),
            tok.pad_token_id,
            tok.bos_token_id,
            tok.eos_token_id,
            seed,
        )
    except ValueError as exc:
        _fail(str(exc))
    result = train(model, dataset, collate_blocks, cfg, description="base pretraining")
    tok.save_pretrained(result.final_dir)
    typer.echo(f"final loss {result.final_loss:.3f}; model in {result.final_dir}; curve {result.loss_curve}")


def load_sharedllm(
    model: str,
    injection_layers: int,
    chunk_size: int,
    kv_per_node: int,
    upper_len: int,
    tree_height: int = 3,
    selection_policy: str = "right",
):
    """A SharedLLM checkpoint as is, or a new SharedLLM built around a base causal LM checkpoint."""
    from transformers import AutoConfig

    from sharedllm import SharedLLMForCausalLM

    if AutoConfig.from_pretrained(model).model_type == "sharedllm":
        return SharedLLMForCausalLM.from_pretrained(model)
    return SharedLLMForCausalLM.from_base(
        model,
        num_injection_layers=injection_layers,
        chunk_size=chunk_size,
        kv_per_node=kv_per_node,
        tree_height=tree_height,
        selection_policy=selection_policy,
        upper_window=upper_len,
    )


MODEL = typer.Argument(..., help="A SharedLLM checkpoint, or a base causal LM checkpoint to build one from.")
INJECT = typer.Option(
    4, help="M: injection layers (bottom layers; the lower model's depth), new models only."
)
KV = typer.Option(32, help="KVs kept per preserved tree node, new models only.")
PRESET = typer.Option("paper", help="Trainable parameters: paper, cross_attention or all.")


def _run_sharedllm(
    model_path: str,
    tok,
    dataset,
    cfg: TrainConfig,
    preset: str,
    injection_layers: int,
    chunk_size: int,
    kv_per_node: int,
    upper_len: int,
    description: str,
) -> None:
    from sharedllm import apply_trainable_preset
    from sharedllm.data.chunking import collate_chunked
    from sharedllm.training.loop import train

    try:
        model = load_sharedllm(model_path, injection_layers, chunk_size, kv_per_node, upper_len)
        n = apply_trainable_preset(model, preset)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(f"{len(dataset)} examples, {n:,} trainable parameters ({preset})")
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    result = train(model, dataset, lambda b: collate_chunked(b, pad), cfg, description=description)
    tok.save_pretrained(result.final_dir)
    typer.echo(f"final loss {result.final_loss:.3f}; model in {result.final_dir}; curve {result.loss_curve}")


@app.command()
def lm(
    model: str = MODEL,
    out: Path = typer.Option(..., help="Output directory (checkpoints, final/, loss_curve.png)."),
    data: str = typer.Option("python", help=DATA_HELP),
    chunks: int = typer.Option(4, min=1, help="n: context chunks per example."),
    chunk_size: int = typer.Option(1024, min=8),
    upper_len: int = typer.Option(4096, min=8),
    injection_layers: int = INJECT,
    kv_per_node: int = KV,
    preset: str = PRESET,
    steps: int = STEPS,
    batch_size: int = BATCH,
    grad_accum: int = ACCUM,
    lr: float = 1e-4,
    warmup_ratio: float = WARMUP,
    bf16: bool = BF16,
    gradient_checkpointing: bool = CKPT,
    save_every: int = SAVE,
    resume: bool = RESUME,
    seed: int = SEED,
    kind: str = KIND,
    text_field: str = FIELD,
    pattern: str = PATTERN,
    limit: int | None = LIMIT,
) -> None:
    """Continual pretraining on long documents: n context chunks + an upper segment per example."""
    from transformers import AutoTokenizer

    from sharedllm.data.datasets import lm_examples
    from sharedllm.data.tokenized import tokenize_documents

    cfg = _train_config(
        out,
        steps,
        batch_size,
        grad_accum,
        lr,
        warmup_ratio,
        bf16,
        gradient_checkpointing,
        save_every,
        resume,
        seed,
    )
    tok = AutoTokenizer.from_pretrained(model)
    docs = tokenize_documents(tok, read_documents(data, kind, text_field, pattern, limit))
    try:
        dataset = lm_examples(docs, chunks, chunk_size, upper_len)
    except ValueError as exc:
        _fail(str(exc))
    _run_sharedllm(
        model,
        tok,
        dataset,
        cfg,
        preset,
        injection_layers,
        chunk_size,
        kv_per_node,
        upper_len,
        "SharedLLM continual pretraining",
    )


@app.command()
def chat(
    model: str = MODEL,
    out: Path = typer.Option(..., help="Output directory."),
    data: str = typer.Option(..., help="A ShareLM export (save_dataset dir or JSONL), or 'chatterbot'."),
    chunk_size: int = typer.Option(512, min=8),
    upper_len: int = typer.Option(1024, min=8),
    max_chunks: int = typer.Option(16, min=0, help="Most recent context chunks kept per chat."),
    injection_layers: int = INJECT,
    kv_per_node: int = KV,
    preset: str = PRESET,
    steps: int = STEPS,
    batch_size: int = BATCH,
    grad_accum: int = ACCUM,
    lr: float = 2e-5,
    warmup_ratio: float = WARMUP,
    bf16: bool = BF16,
    gradient_checkpointing: bool = CKPT,
    save_every: int = SAVE,
    resume: bool = RESUME,
    seed: int = SEED,
    limit: int | None = LIMIT,
) -> None:
    """Instruction tuning on chats: the model's chat template, loss on assistant replies only."""
    from transformers import AutoTokenizer

    from sharedllm.data.chat import conversation_messages, encode_chat
    from sharedllm.data.datasets import chat_examples
    from sharedllm.data.tokenizer import DEFAULT_CHAT_TEMPLATE

    cfg = _train_config(
        out,
        steps,
        batch_size,
        grad_accum,
        lr,
        warmup_ratio,
        bf16,
        gradient_checkpointing,
        save_every,
        resume,
        seed,
    )
    if data == "chatterbot":
        from sharelm.sources.chatterbot import load_corpus

        convs = load_corpus()
    else:
        from sharelm.export import load_conversations

        convs = load_conversations(data)
    tok = AutoTokenizer.from_pretrained(model)
    if tok.chat_template is None:
        tok.chat_template = DEFAULT_CHAT_TEMPLATE
    encoded = [
        encode_chat(tok, conversation_messages(c)) for i, c in enumerate(convs) if limit is None or i < limit
    ]
    try:
        dataset = chat_examples(encoded, chunk_size, upper_len, max_chunks)
    except ValueError as exc:
        _fail(str(exc))
    _run_sharedllm(
        model,
        tok,
        dataset,
        cfg,
        preset,
        injection_layers,
        chunk_size,
        kv_per_node,
        upper_len,
        "SharedLLM instruction tuning",
    )
