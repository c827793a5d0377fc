"""Fast unit tests: config, tasks, partitions, privacy, protocol, aggregation, the CLI's error messages."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from pathlib import Path

import pytest
import torch
from flwr.app import ConfigRecord, MetricRecord, RecordDict
from typer.testing import CliRunner

import crosslm
from crosslm import protocol
from crosslm.cli import app
from crosslm.config import ConfigError, RunConfig
from crosslm.data import dirichlet_partitions, field_partitions, split_federation
from crosslm.privacy import epsilon_spent, privatize
from crosslm.server import aggregate
from crosslm.task import Example, build_task, conversation_text, hf_examples, rating_label
from sharelm.schema import Conversation

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def conv(topic=None, rate=None, ratings=(), source="s1", text="hello there"):
    return Conversation.model_validate(
        {
            "conversation": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok  then"}],
            "source": source,
            "conversation_metadata": {
                "rate": rate,
                "message_ratings": list(ratings),
                "extra": {"topic": topic} if topic else {},
            },
        }
    )


def test_run_config_is_the_pyproject_table():
    with PYPROJECT.open("rb") as f:
        flwr = tomllib.load(f)["tool"]["flwr"]["app"]
    assert flwr["components"] == {
        "serverapp": "crosslm.app.server_app:app",
        "clientapp": "crosslm.app.client_app:app",
    }
    assert RunConfig().to_mapping() == flwr["config"]  # same keys, same defaults: one definition
    assert {f.name: f.type for f in dataclasses.fields(RunConfig)}["dp_delta"] == "float"
    # The installed package carries the same file (a link in the checkout, a copy in a wheel).
    assert (Path(crosslm.__file__).parent / "app" / "pyproject.toml").read_bytes() == PYPROJECT.read_bytes()


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"method": "magic"}, "method"),
        ({"num-rounds": "many"}, "num-rounds"),
        ({"threshold": 1.5}, "threshold"),
        ({"regularizer": "lora+dropout"}, "regularizer"),
        ({"no-such-key": 1}, "no-such-key"),
        ({"resume": "maybe"}, "resume"),
    ],
)
def test_bad_config_names_the_key(values, key):
    with pytest.raises(ConfigError, match=key):
        RunConfig.from_mapping(values)


def test_config_lists_and_slm_assignment():
    cfg = RunConfig.from_mapping({"slms": "a, b", "regularizer": "lora+kl", "num-rounds": 2.0})
    assert [cfg.slm_for(i) for i in range(3)] == ["a", "b", "a"] and cfg.num_rounds == 2
    assert cfg.regularizers == {"lora", "kl"} and cfg.replace(method="fedavg").slm_for(1) == "a"
    with pytest.raises(ConfigError, match="data-path"):
        cfg.require_models()


def test_tasks_turn_conversations_into_examples():
    task = build_task("topic", "topic")
    exs = task.examples([conv("food"), conv("sports", source="s2"), conv(None)], group_by="source")
    assert task.labels == ["food", "sports"] and exs[0] == Example("hello there ok then", "food", "s1")
    assert conversation_text(conv("x", text="a\n b")) == "a b ok then"
    assert (
        rating_label(conv(rate="thumbup")) == "positive"
        and rating_label(conv(rate="thumbdown")) == "negative"
    )
    assert rating_label(conv(ratings=[-1])) == "negative" and rating_label(conv()) is None
    rating = build_task("rating")
    assert [e.label for e in rating.examples([conv(rate="thumbup"), conv()])] == ["positive"]
    assert (
        task.prompt("food") == "food :"
        and build_task("topic", template="topic {label}:").prompt("x") == "topic x:"
    )
    with pytest.raises(ValueError, match="task must be"):
        build_task("sentiment")


def test_hf_task_by_column_names():
    import datasets

    ds = datasets.Dataset.from_dict({"sentence": ["good film", "bad film", ""], "y": [1, 0, 1]}).cast_column(
        "y", datasets.ClassLabel(names=["neg", "pos"])
    )
    exs, labels = hf_examples(ds, "sentence", "y")
    assert labels == ["neg", "pos"] and [(e.text, e.label) for e in exs] == [
        ("good film", "pos"),
        ("bad film", "neg"),
    ]
    with pytest.raises(ValueError, match="no column 'text'"):
        hf_examples(ds, "text", "y")


def test_partitions_by_field_and_dirichlet():
    exs = [Example(f"t{i}", "ab"[i % 2], f"user{i % 5}") for i in range(100)]
    parts = field_partitions(exs, 2, "user_id")
    assert sum(map(len, parts)) == 100 and not {e.group for e in parts[0]} & {e.group for e in parts[1]}
    with pytest.raises(ConfigError, match="partition-by"):
        field_partitions(exs, 6, "user_id")
    parts = dirichlet_partitions(exs, 4, alpha=0.3, seed=0)
    assert sorted(e.text for p in parts for e in p) == sorted(e.text for e in exs)
    cfg = RunConfig.from_mapping({"test-fraction": 0.25, "server-test-fraction": 0.1})
    fed = split_federation(build_task("topic", labels=["a", "b"]), exs, cfg, 4)
    server = {e.text for e in fed.server_test}
    assert len(server) == 10 and all(not server & {e.text for e in s.train + s.test} for s in fed.silos)
    assert all(s.test for s in fed.silos)


def test_privacy_clips_noises_and_accounts():
    clean = [0.9] * 16
    assert privatize(clean, 0.0) == clean
    g = torch.Generator().manual_seed(0)
    noisy = privatize(clean, 1.0, clip=1.0, generator=g)
    assert all(0 <= q <= 1 for q in noisy) and noisy != clean
    # Releases centre on the clipped value (0.9 at L2 norm 1 = 0.25); the [0,1] clamp keeps the median.
    means = torch.tensor(
        [privatize([0.9] * 16, 0.5, 1.0, torch.Generator().manual_seed(s)) for s in range(400)]
    )
    assert abs(means.median().item() - 0.25) < 0.03
    assert epsilon_spent(1.0, 1, 1e-5) < epsilon_spent(1.0, 10, 1e-5) and epsilon_spent(4.0, 10, 1e-5) < 5
    assert epsilon_spent(0.0, 3, 1e-5) == math.inf


def test_aggregate_is_count_weighted():
    assert aggregate([[1.0, 0.0], [0.0, 0.0]], [3, 1]) == pytest.approx([0.75, 0.0])


def test_protocol_rejects_anything_but_numbers_and_feedback():
    ok = protocol.client_reply([0.2, 0.9], {"num_examples": 5, "test_accuracy": 0.5})
    protocol.validate_reply(ok, 2)
    leak = RecordDict(
        {
            "feedback": MetricRecord({"quality": [0.5]}),
            "metrics": MetricRecord({"num_examples": 1}),
            "private": ConfigRecord({"text": "my secret"}),
        }
    )
    with pytest.raises(protocol.ProtocolError, match="private"):
        protocol.validate_reply(leak, 1)
    with pytest.raises(protocol.ProtocolError, match="whitelist"):
        protocol.client_reply([0.5], {"label_of_my_example": 1})
    with pytest.raises(protocol.ProtocolError, match="scores"):
        protocol.client_reply([1.5], {})
    bad = RecordDict({"feedback": MetricRecord({"quality": [0.5]}), "metrics": ConfigRecord({"x": "text"})})
    with pytest.raises(protocol.ProtocolError, match="MetricRecord"):
        protocol.validate_reply(bad, 1)


def test_cli_reports_bad_input_by_field(tmp_path):
    runner = CliRunner(env={"COLUMNS": "300"})  # rich would wrap the message at 80 columns
    cfg = tmp_path / "c.toml"
    cfg.write_text('data-path = "/nope"\nllm = "x"\nslms = "y"\n')
    res = runner.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 2 and "data-path" in res.output and "Traceback" not in res.output
    cfg.write_text('method = "fedprox"\n')
    res = runner.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 2 and "method" in res.output
    cfg.write_text("not toml [")
    res = runner.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 2 and "not valid TOML" in res.output
    res = runner.invoke(app, ["run", "--set", "num-rounds=zero"])
    assert res.exit_code == 2 and "num-rounds" in res.output


def test_world_judges_labels_and_exports_conversations():
    import random

    from world import make_world  # benchmarks/ (conftest puts it on the path)

    world = make_world(num_topics=4, words_per_topic=24, seed=0)
    world.topic_share = 0.5
    clean = world.labelled(200, random.Random(1))
    shuffled = [(t, random.Random(i).choice(world.topics)) for i, (t, _) in enumerate(clean)]
    assert world.label_precision(clean) > 0.9 and world.label_precision(shuffled) < 0.45
    corpus = world.public_corpus(n_headed=400, n_general=100, header_noise=0.4, seed=2)
    headed = [d.split(" : ", 1) for d in corpus if " : " in d]
    assert len(headed) == 400 and 0.45 < world.label_precision([(t, h) for h, t in headed]) < 0.75
    convs = world.conversations(5, seed=3)
    assert {c.conversation_metadata.extra["topic"] for c in convs} <= set(world.topics)
    # General text lies outside the task world: none of its words belongs to a topic.
    topic_words = {w for words in world.vocab.values() for w in words}
    assert not topic_words & {w for d in world.general_text(50, seed=4) for w in d.split()}


def test_cli_writes_one_silo_file_per_client(world_run, tmp_path):
    runner = CliRunner(env={"COLUMNS": "300"})
    args = [
        "silos",
        "--clients",
        "3",
        "--out",
        str(tmp_path / "silos"),
        "-c",
        f"data-path={world_run['export']}",
    ]
    res = runner.invoke(app, [*args, "-c", f"task-labels={world_run['labels']}"])
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in (tmp_path / "silos").iterdir())
    assert files == ["client-0.json", "client-1.json", "client-2.json"]
    texts = [
        {
            e["text"]
            for k in ("train", "val", "test")
            for e in json.loads((tmp_path / "silos" / f).read_text())[k]
        }
        for f in files
    ]
    assert not (texts[0] & texts[1]) and not (texts[1] & texts[2])  # each file holds one client's data


def test_the_cli_and_the_benches_do_not_import_each_other():
    import crosslm.cli as cli

    assert "bench" not in Path(cli.__file__).read_text()  # the benches import the library, not the reverse
    assert not (Path(crosslm.__file__).parent / "bench").exists()
