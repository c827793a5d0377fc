"""Flower ClientApp: one client's side of a round (local training, scoring, feedback)."""

from __future__ import annotations

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from crosslm.app.audit import audit_outgoing
from crosslm.client import run_round
from crosslm.config import RunConfig

# Every reply passes the audit mod: with `audit-dir` set it records exactly what leaves the client.
app = ClientApp(mods=[audit_outgoing])


@app.train()
def train(msg: Message, context: Context) -> Message:
    cfg = RunConfig.from_mapping(context.run_config)
    pid = int(context.node_config["partition-id"])
    n = int(context.node_config["num-partitions"])
    return Message(content=run_round(cfg, pid, n, msg.content), reply_to=msg)
