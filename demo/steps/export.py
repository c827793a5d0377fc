"""Step 2: the operator exports a collection snapshot as a Hugging Face dataset and checks what it holds."""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from demo.services import DemoError, venv_command
from sharelm.export import load_conversations


@dataclass
class ExportResult:
    path: str
    conversations: int
    by_source: dict[str, int] = field(default_factory=dict)
    rated: int = 0
    redacted: int = 0


def export_snapshot(
    env: dict[str, str], out: Path, expected_ids: set[str], deleted_ids: set[str]
) -> ExportResult:
    cmd = [venv_command("sharelm-collector"), "export", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise DemoError(f"`sharelm-collector export` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    convs = list(load_conversations(out))
    ids = {c.conversation_id for c in convs}
    if ids & deleted_ids:
        raise DemoError(f"deleted conversations are still exported: {sorted(ids & deleted_ids)[:5]}")
    if missing := expected_ids - ids:
        raise DemoError(
            f"{len(missing)} stored conversations are missing from the export, e.g. {sorted(missing)[:5]}"
        )
    leaked = [
        c.conversation_id for c in convs if any("jane.doe@example.org" in m.content for m in c.conversation)
    ]
    if leaked:
        raise DemoError(f"unredacted e-mail addresses in the export: {leaked[:5]}")
    return ExportResult(
        path=str(out),
        conversations=len(convs),
        by_source=dict(Counter(c.source or "?" for c in convs)),
        rated=sum(c.conversation_metadata.rate is not None for c in convs),
        redacted=sum(c.conversation_metadata.redacted == "True" for c in convs),
    )
