"""Flower ServerApp: CrossLM's rounds (and the baselines') as a Flower strategy over the Message API."""

from __future__ import annotations

import torch
from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp

from crosslm.config import RunConfig
from crosslm.events import EventSink
from crosslm.server import finish, setup
from crosslm.strategy import CrossLMStrategy

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = RunConfig.from_mapping(context.run_config)
    cfg.require_models()
    events = EventSink(cfg.events)
    side = setup(cfg, events)
    done = side.state.round
    events.emit("setup", done=done, num_rounds=cfg.num_rounds, initial=side.state.initial)
    if done < cfg.num_rounds:
        strategy = CrossLMStrategy(side, offset=done)
        strategy.start(
            grid,
            _initial_arrays(side),
            num_rounds=cfg.num_rounds - done,
            timeout=cfg.round_timeout,
            evaluate_fn=strategy.evaluate,
        )
    finish(side)
    events.emit("done", out_dir=cfg.out_dir)
    events.close()


def _initial_arrays(side) -> ArrayRecord:
    """FedAvg's global weights from the checkpoint on resume; otherwise none (clients start locally)."""
    path = side.checkpoint_dir / "fedavg.pt"
    if side.cfg.method == "fedavg" and side.cfg.resume and path.exists():
        return ArrayRecord(torch.load(path))
    return ArrayRecord()
