"""`sharedllm eval ppl`, `sharedllm eval passkey` and `sharedllm eval retrieval`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sharedllm.cli_common import fail, read_documents

app = typer.Typer(
    help="Evaluate: perplexity at length, passkey retrieval, retrieval heat maps.", no_args_is_help=True
)

POLICY = typer.Option(
    None, help="Override the SharedLLM's tree selection policy: right, query or query-max (default: its own)."
)


def _set_policy(model, policy: str | None) -> None:
    if policy is None or model is None:
        return
    try:
        model.set_selection(policy)
    except ValueError as exc:
        fail(str(exc))


def _ints(value: str, name: str) -> list[int]:
    try:
        out = [
            int(float(v.strip().lower().replace("k", "")) * 1024)
            if v.strip().lower().endswith("k")
            else int(v)
            for v in value.split(",")
            if v.strip()
        ]
    except ValueError:
        fail(f"--{name} must be comma-separated integers like 4096,8K, got {value!r}")
    if not out or min(out) <= 0:
        fail(f"--{name} needs positive values, got {value!r}")
    return out


def _load_models(model: str | None, base: str | None, policy: str | None = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sharedllm import SharedLLMForCausalLM

    if model is None and base is None:
        fail("give a SharedLLM checkpoint (MODEL), a base model (--base), or both")
    shared = SharedLLMForCausalLM.from_pretrained(model) if model else None
    _set_policy(shared, policy)
    base_model = AutoModelForCausalLM.from_pretrained(base) if base else None
    return shared, base_model, AutoTokenizer.from_pretrained(model or base)


@app.command()
def ppl(
    model: str | None = typer.Argument(None, help="A SharedLLM checkpoint."),
    base: str | None = typer.Option(None, help="The base causal LM (truncated, sinks and full methods)."),
    data: str = typer.Option(
        "python", help="'python' (held-out packages of site-packages), a dataset, or files."
    ),
    kind: str = typer.Option("auto"),
    text_field: str = typer.Option("text"),
    pattern: str = typer.Option("**/*.txt"),
    lengths: str = typer.Option("4K,8K,16K,32K,64K,128K", help="Context lengths."),
    methods: str = typer.Option("", help="Comma-separated; default: all that the given models allow."),
    num_docs: int = typer.Option(20, min=1),
    score_len: int = typer.Option(256, min=1),
    window: int | None = typer.Option(None, help="Base window (default: its max_position_embeddings)."),
    sink_tokens: int = typer.Option(4, min=0),
    full_max_len: int = typer.Option(32768),
    out: Path = typer.Option(
        Path("runs/sharedllm-eval-ppl"), help="Folder for results.json, table.md, ppl.png."
    ),
    selection_policy: str | None = POLICY,
) -> None:
    """Perplexity of the last score_len tokens of each document at each context length, side by side."""
    from sharedllm.data.tokenized import tokenize_documents
    from sharedllm.evaluation.perplexity import (
        BASE_METHODS,
        METHODS,
        SHAREDLLM_METHODS,
        PplSetup,
        evaluate_perplexity,
        plot_ppl,
        ppl_table,
        rows_to_json,
    )

    length_list = _ints(lengths, "lengths")
    shared, base_model, tok = _load_models(model, base, selection_policy)
    chosen = [m.strip() for m in methods.split(",") if m.strip()] or [
        m for m in METHODS if (m in BASE_METHODS and base_model) or (m in SHAREDLLM_METHODS and shared)
    ]
    texts, groups = read_documents(data, kind, text_field, pattern, split="heldout")
    docs = tokenize_documents(tok, texts)
    keep = [i for i, d in enumerate(docs) if len(d) >= max(length_list)][:num_docs]
    if not keep:
        fail(f"no document of {data} has {max(length_list)} tokens; lower --lengths")
    import torch

    try:
        setup = PplSetup(
            lengths=length_list,
            score_len=score_len,
            sink_tokens=sink_tokens,
            full_max_len=full_max_len,
            window=window
            or (base_model.config.max_position_embeddings if base_model else shared.config.upper_window),
            chunk_size=shared.config.chunk_size if shared else 1024,
            upper_len=shared.config.upper_window if shared else 4096,
        )
        rows = evaluate_perplexity(
            [torch.from_numpy(docs[i].astype("int64")) for i in keep],
            setup,
            chosen,
            base=base_model,
            sharedllm=shared,
            groups=[groups[i] for i in keep],
        )
    except ValueError as exc:
        fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    table = ppl_table(rows)
    (out / "results.json").write_text(json.dumps({"rows": rows_to_json(rows), "docs": len(keep)}, indent=1))
    (out / "table.md").write_text(table + "\n")
    plot_ppl(rows, out / "ppl.png")
    typer.echo(table)
    typer.echo(f"{len(keep)} documents; plot in {out / 'ppl.png'}")


@app.command()
def passkey(
    model: str = typer.Argument(..., help="A SharedLLM checkpoint (method sharedllm) or any causal LM."),
    method: str = typer.Option("sharedllm", help="sharedllm, truncated or full."),
    lengths: str = typer.Option("4K,8K,16K,32K", help="Prompt lengths."),
    depths: str = typer.Option("0,0.25,0.5,0.75,1", help="Needle depths as fractions."),
    trials: int = typer.Option(5, min=1),
    template: str = typer.Option("text", help="text or python."),
    window: int | None = typer.Option(
        None, help="Upper window / truncation (default from the model config)."
    ),
    out: Path = typer.Option(Path("runs/sharedllm-eval-passkey")),
    selection_policy: str | None = POLICY,
) -> None:
    """Passkey retrieval accuracy over lengths x depths, as a heat map PNG."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sharedllm.evaluation.passkey import PASSKEY_METHODS, TEMPLATES, passkey_accuracy, plot_passkey

    if method not in PASSKEY_METHODS:
        fail(f"--method must be one of {', '.join(PASSKEY_METHODS)}, got {method!r}")
    if template not in TEMPLATES:
        fail(f"--template must be one of {', '.join(TEMPLATES)}, got {template!r}")
    try:
        depth_list = [float(d) for d in depths.split(",") if d.strip()]
    except ValueError:
        fail(f"--depths must be comma-separated fractions, got {depths!r}")
    length_list = _ints(lengths, "lengths")
    m = AutoModelForCausalLM.from_pretrained(model)
    if method == "sharedllm" and m.config.model_type != "sharedllm":
        fail(f"{model} is not a SharedLLM checkpoint; use --method truncated or full")
    _set_policy(m if method == "sharedllm" else None, selection_policy)
    tok = AutoTokenizer.from_pretrained(model)
    win = window or getattr(m.config, "upper_window", None) or m.config.max_position_embeddings
    try:
        grid = passkey_accuracy(m, tok, method, length_list, depth_list, trials, win, TEMPLATES[template]())
    except ValueError as exc:
        fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    (out / "passkey.json").write_text(
        json.dumps(
            {"method": method, "lengths": length_list, "depths": depth_list, "accuracy": grid}, indent=1
        )
    )
    path = plot_passkey(grid, length_list, depth_list, out / "passkey.png", f"passkey retrieval: {method}")
    mean = sum(map(sum, grid)) / (len(grid) * len(length_list))
    typer.echo(f"mean accuracy {mean:.1%}; heat map {path}")


@app.command()
def retrieval(
    model: str = typer.Argument(..., help="A SharedLLM checkpoint."),
    base: str | None = typer.Option(None, help="Its base causal LM (the truncated and full-yarn methods)."),
    methods: str = typer.Option(
        "sharedllm-query,sharedllm-right,truncated,full-yarn", help="Comma-separated retrieval methods."
    ),
    templates: str = typer.Option("text,python", help="text (passkey in prose) and/or python (a constant)."),
    lengths: str = typer.Option("4K,8K,16K,32K", help="Prompt lengths."),
    depths: str = typer.Option("0,0.25,0.5,0.75,1", help="Needle depths as fractions."),
    trials: int = typer.Option(4, min=1),
    window: int | None = typer.Option(None, help="Base window (default: its max_position_embeddings)."),
    full_max_len: int = typer.Option(8192, help="Longest prompt full attention reads."),
    seed: int = typer.Option(1234, help="Keys drawn per cell (training's retrieval examples use their own)."),
    out: Path = typer.Option(Path("runs/sharedllm-eval-retrieval")),
) -> None:
    """Retrieval from far back: passkey accuracy (text and code) over lengths x depths for SharedLLM with
    the right and the query-aware policy, the truncated base and full attention; heat maps side by side."""
    from sharedllm.evaluation.retrieval import (
        chance_accuracy,
        plot_retrieval,
        retrieval_table,
        run_retrieval,
    )

    try:
        depth_list = [float(d) for d in depths.split(",") if d.strip()]
    except ValueError:
        fail(f"--depths must be comma-separated fractions, got {depths!r}")
    length_list = _ints(lengths, "lengths")
    method_list = [m.strip() for m in methods.split(",") if m.strip()]
    template_list = [t.strip() for t in templates.split(",") if t.strip()]
    shared, base_model, tok = _load_models(model, base)
    win = window or (base_model.config.max_position_embeddings if base_model else shared.config.upper_window)
    try:
        results = run_retrieval(
            shared,
            base_model,
            tok,
            method_list,
            template_list,
            length_list,
            depth_list,
            trials,
            win,
            shared.config.upper_window,
            full_max_len,
            seed,
            progress=typer.echo,
        )
    except ValueError as exc:
        fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    table = retrieval_table(results, length_list, trials * len(depth_list))
    chance = f"chance {chance_accuracy():.4%}"
    table += (
        f"\n\nAccuracy averaged over depths {depth_list}, {trials} keys per cell "
        f"({trials * len(depth_list)} prompts per length, 95% Wilson interval in brackets); {chance}."
    )
    (out / "retrieval.json").write_text(
        json.dumps(
            {
                "lengths": length_list,
                "depths": depth_list,
                "trials": trials,
                "window": win,
                "accuracy": results,
            },
            indent=1,
        )
    )
    (out / "retrieval.md").write_text(table + "\n")
    plot_retrieval(results, length_list, depth_list, out / "retrieval.png", "retrieval from far back")
    typer.echo(table)
    typer.echo(f"heat maps in {out / 'retrieval.png'}")
