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


def write_report(out: Path, report: dict) -> None:
    lines = ["# Platform demo report", ""]
    lines += [
        f"Run {'(smoke)' if report['smoke'] else ''} with seed {report['seed']}.",
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
    (out / "README.md").write_text("\n".join(lines) + "\n")
