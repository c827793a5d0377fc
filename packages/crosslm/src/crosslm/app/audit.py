"""A client-side Flower mod that records every message a client sends, for the boundary test.

It sits between the ClientApp and the transport, so it sees exactly what the node would put on the wire
(including error replies). With the run-config key `audit-dir` empty it does nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord
from flwr.clientapp.typing import ClientAppCallable


def audit_outgoing(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    try:
        reply = call_next(msg, context)
    except Exception as exc:  # Flower turns this into the error reply the server receives
        _record(context, {"error": {"reason": f"{type(exc).__name__}: {exc}"}})
        raise
    _record(context, describe(reply))
    return reply


def _record(context: Context, entry: dict) -> None:
    audit_dir = str(context.run_config.get("audit-dir", ""))
    if audit_dir:
        pid = context.node_config.get("partition-id", "x")
        with (Path(audit_dir) / f"client-{pid}.jsonl").open("a") as f:
            f.write(json.dumps(entry) + "\n")


def describe(msg: Message) -> dict:
    """Everything a message carries, as JSON: record kinds, keys and values (arrays by shape only)."""
    if msg.has_error():
        return {"error": {"code": msg.error.code, "reason": msg.error.reason}}
    out = {}
    for name, record in msg.content.items():
        if isinstance(record, ArrayRecord):
            out[name] = {"kind": "array", "shapes": {k: list(a.shape) for k, a in record.items()}}
        elif isinstance(record, MetricRecord | ConfigRecord):
            kind = "metric" if isinstance(record, MetricRecord) else "config"
            out[name] = {"kind": kind, "values": {k: _plain(v) for k, v in record.items()}}
        else:
            out[name] = {"kind": type(record).__name__}
    return {"content": out}


def _plain(value):
    if isinstance(value, bytes):
        return {"bytes": len(value)}
    return list(value) if isinstance(value, list | tuple) else value
