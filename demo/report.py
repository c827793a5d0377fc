"""The demo's report: README.md (what happened, with figures) and PNG plots next to report.json."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _bar(path: Path, counts: dict[str, int], title: str) -> None:
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _ttft_plot(path: Path, chat: dict) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    turns = range(1, len(chat["ttft_s"]) + 1)
    ax.plot(turns, [t * 1000 for t in chat["ttft_s"]], marker="o", label="time to first token (ms)")
    ax.set_xlabel("turn")
    ax.set_ylabel("ms")
    ax2 = ax.twinx()
    ax2.plot(turns, chat["history_tokens"], color="gray", linestyle="--", label="prompt tokens")
    ax2.set_ylabel("prompt tokens")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
    ax.set_title("Long chat: time to first token as the history grows")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _num(rec: dict, key: str, fmt: str) -> str:
    """A metric the round has, or a dash: response mode has no label scorer, so no LLM task accuracy."""
    return format(rec[key], fmt) if key in rec else "—"


def _round_row(label: str, rec: dict) -> str:
    acc, llm_acc, ppl = (
        _num(rec, "slm_mean_accuracy", ".3f"),
        _num(rec, "llm_task_accuracy", ".3f"),
        _num(rec, "llm_general_ppl", ".2f"),
    )
    clients = f"{rec['num_ok']}/{rec['num_sampled']}" if "num_ok" in rec else ""
    return f"| {label} | {acc} | {llm_acc} | {ppl} | {clients} |"


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")[:80]


def _crosslm_section(x: dict) -> list[str]:
    metrics = x["metrics"]
    lines = [
        "",
        "## 3. CrossLM",
        "",
        "| round | SLM (reward model) mean accuracy | LLM task accuracy | LLM general ppl | clients |",
        "|---|---|---|---|---|",
    ]
    if init := metrics.get("initial"):
        lines.append(_round_row("before", init))
    lines += [_round_row(str(rec["round"]), rec) for rec in metrics["rounds"]]
    if "win_rate" in x:  # response mode: the LLM's answers judged by the contributors' rule
        lines += [
            "",
            f"Response mode: reward models trained on the contributors' ratings (rule: {x['rule']}); "
            "the LLM has no label scorer here (task accuracy —), its answers are judged instead. "
            f"Win rate of the tuned LLM's answers over the starting LLM's on {x['held_out_prompts']} "
            f"held-out prompts (ties 1/2): **{x['win_rate']:.3f}**; "
            f"liked {x['liked_before']} -> {x['liked_after']}.",
            "",
            "| prompt | before | after |",
            "|---|---|---|",
            *(
                f"| {_cell(e['prompt'])} | {_cell(e['before'])} | {_cell(e['after'])} |"
                for e in x["examples"]
            ),
        ]
    lines += [
        "",
        f"Per-round metrics, SLMs, the LLM adapter and CrossLM's own report: `{x['out_dir']}`.",
        "",
        "![crosslm](crosslm/report.png)",
    ]
    return lines


def write_report(out: Path, report: dict) -> None:
    lines = ["# Platform demo report", ""]
    lines += [
        f"{'Smoke' if report['smoke'] else 'Full-size'} run, seed {report['seed']}; step times:",
        "",
        "| step | seconds |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in report["timings_s"].items()]
    c = report.get("collect")
    if c:
        _bar(out / "collection_topics.png", c["topics"], "Kept dialogs by ChatterBot topic")
        lines += [
            "",
            "## 1. Collector",
            "",
            f"{c['contributors']} contributors uploaded {c['uploaded']} ChatterBot dialogs through "
            f"`POST /v1/conversations/batch` and {c['plugin_uploads']} plugin-format uploads through "
            f"`POST /api/endpoint`; {c['rated']} were rated and {c['deleted']} deleted by their owners.",
            "",
            "![topics](collection_topics.png)",
        ]
    e = report.get("export")
    if e:
        lines += [
            "",
            "## 2. Export",
            "",
            f"`sharelm-collector export` wrote {e['conversations']} conversations to `{e['path']}` "
            f"(by source: {e['by_source']}); {e['rated']} carry a rating, {e['redacted']} were redacted. "
            "No deleted conversation is in it.",
        ]
    if x := report.get("crosslm"):
        lines += _crosslm_section(x)
    if ch := report.get("chat"):
        _ttft_plot(out / "chat_ttft.png", ch)
        first, last = ch["ttft_s"][0] * 1000, ch["ttft_s"][-1] * 1000
        arrived = "reached" if ch["contributed"] else "did NOT reach"
        lines += [
            "",
            "## 4. Chat service",
            "",
            f"{ch['turns']} turns through the `openai` client, the prompt growing to "
            f"{ch['history_tokens'][-1]} tokens; time to first token {first:.0f} ms at turn 1 and "
            f"{last:.0f} ms at turn {ch['turns']}. "
            f"Context chunks encoded {ch['chunks_encoded']}, served from the per-conversation cache "
            f"{ch['chunks_reused']}. A response was rated and the chat {arrived} the collector.",
            "",
            "![ttft](chat_ttft.png)",
        ]
        shown = ch.get("exchanges", [])
        if shown:
            lines += ["", "Some exchanges (the end of each user message, then the model's reply):", ""]
            for x in shown[:2] + shown[-2:] if len(shown) > 4 else shown:
                user = x["user_end"][-100:]
                lines += [f"- turn {x['turn']}: user `...{user}` -> assistant `{x['assistant']}`"]
    (out / "README.md").write_text("\n".join(lines) + "\n")
