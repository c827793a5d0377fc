"""Flower ClientApp: one client's side of a round (local training, scoring, feedback)."""

from __future__ import annotations

import torch
from flwr.app import ArrayRecord, Context, Message
from flwr.clientapp import ClientApp

from crosslm import protocol
from crosslm.app import worker
from crosslm.app.audit import audit_outgoing
from crosslm.config import RunConfig

# Every reply passes the audit mod: with `audit-dir` set it records exactly what leaves the client.
app = ClientApp(mods=[audit_outgoing])


@app.train()
def train(msg: Message, context: Context) -> Message:
    cfg = RunConfig.from_mapping(context.run_config)
    pid = int(context.node_config["partition-id"])
    content = msg.content
    weights = None
    if protocol.SLM_WEIGHTS in content:
        weights = content[protocol.SLM_WEIGHTS].to_torch_state_dict()
    feedback, metrics, out = worker.call(cfg, pid, dict(content[protocol.ROUND]), weights)
    arrays = ArrayRecord({k: torch.as_tensor(v) for k, v in out.items()}) if out is not None else None
    reply = protocol.client_reply(feedback, metrics, arrays, per_label=cfg.relabel)
    return Message(content=reply, reply_to=msg)
