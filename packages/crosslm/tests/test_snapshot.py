"""A collection snapshot in, a task out: task detection, silos by contributor / platform, the early errors,
and response mode's rated answers and selection rules."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from crosslm.cli import app
from crosslm.config import ConfigError, RunConfig
from crosslm.data import load_task_examples, plan_federation
from crosslm.response import agreed, llm_weights
from crosslm.reward import rated_answers, rm_text
from sharelm.export import save_dataset
from sharelm.schema import Conversation


def conv(user="u1", ratings=(), rate=None, turns=1, topic=None, source="web"):
    messages = []
    for i in range(turns):
        messages += [{"role": "user", "content": f"q{i} {user}"}, {"role": "assistant", "content": f"a{i} x"}]
    meta = {"message_ratings": list(ratings), "rate": rate, "extra": {"topic": topic} if topic else {}}
    return Conversation.model_validate(
        {"conversation": messages, "user_id": user, "source": source, "conversation_metadata": meta}
    )


def cfg_for(path, **extra) -> RunConfig:
    return RunConfig.from_mapping({"data-path": str(path), "server-test-fraction": 0.0, **extra})


def test_rated_answers_from_per_response_ratings_and_thumbs():
    assert rated_answers(conv(ratings=[1, -1], turns=2)) == [
        ("q0 u1", "a0 x", "liked"),
        ("q1 u1", "a1 x", "disliked"),
    ]
    assert rated_answers(conv(rate="thumbs_down")) == [("q0 u1", "a0 x", "disliked")]
    # Both: the per-response rating of the first answer, the thumbs for the unrated last one (a pair).
    assert [r[2] for r in rated_answers(conv(ratings=[-1], rate="thumbup", turns=2))] == ["disliked", "liked"]
    assert rated_answers(conv()) == [] and rm_text(" a  b ", "c") == "a b || c"


def test_auto_task_reads_ratings_when_present_else_the_field(tmp_path):
    rated = [conv(user=f"u{i % 3}", rate="thumbs_up" if i % 2 else "thumbs_down") for i in range(24)]
    save_dataset(rated, tmp_path / "rated.jsonl")
    task, examples = load_task_examples(cfg_for(tmp_path / "rated.jsonl"))
    assert task.name == "rating" and len(examples) == 24
    topics = [conv(user=f"u{i % 3}", topic=["a", "b"][i % 2]) for i in range(24)]
    save_dataset(topics, tmp_path / "topics.jsonl")
    task, _ = load_task_examples(cfg_for(tmp_path / "topics.jsonl"))
    assert task.name == "topic" and task.labels == ["a", "b"]
    with pytest.raises(ConfigError, match="no ratings .* 'task-field'.*extra keys found: topic"):
        load_task_examples(cfg_for(tmp_path / "topics.jsonl", **{"task-field": "mood"}))


def test_silos_by_contributor_and_platform_in_response_mode(tmp_path):
    convs = [conv(user=f"u{i % 4}", source=f"p{i % 2}", ratings=[1 if i % 3 else -1]) for i in range(48)]
    save_dataset(convs, tmp_path / "x.jsonl")
    fed = plan_federation(cfg_for(tmp_path / "x.jsonl", mode="response", **{"partition-by": "user_id"}), 4)
    for silo in fed.silos:  # one contributor per silo
        assert len({ex.group for ex in silo.train + silo.val + silo.test}) == 1
        assert all(" || " in ex.text and ex.prompt for ex in silo.train)
    fed = plan_federation(cfg_for(tmp_path / "x.jsonl", mode="response", **{"partition-by": "source"}), 2)
    assert [{ex.group for ex in s.train + s.test} for s in fed.silos] == [{"p0"}, {"p1"}]


def test_too_few_labelled_examples_stop_with_what_to_do(tmp_path):
    few = [conv(user=f"u{i}", rate="thumbs_up") for i in range(20)] + [conv(rate="thumbs_down")] * 2
    save_dataset(few, tmp_path / "few.jsonl")
    with pytest.raises(
        ConfigError, match=r"too few labelled examples.*'negative': 2.*min-per-label.*Collect"
    ):
        load_task_examples(cfg_for(tmp_path / "few.jsonl"))
    save_dataset(few[:20], tmp_path / "up.jsonl")  # thumbs up only: nothing to tell liked from
    with pytest.raises(ConfigError, match=r"found 1 label\(s\).*liked: 20.*Collect more rated"):
        load_task_examples(cfg_for(tmp_path / "up.jsonl", mode="response"))
    small_silo = [conv(user="big", rate=["thumbs_up", "thumbs_down"][i % 2]) for i in range(30)]
    small_silo += [conv(user="tiny", rate="thumbs_up"), conv(user="tiny", rate="thumbs_down")]
    save_dataset(small_silo, tmp_path / "silo.jsonl")
    with pytest.raises(
        ConfigError, match=r"client 1's silo holds 1 labelled.*'min-per-silo' = 4.*fewer clients"
    ):
        plan_federation(cfg_for(tmp_path / "silo.jsonl", **{"partition-by": "user_id"}), 2)


def test_a_raw_source_file_says_to_run_sharelm_import(tmp_path):
    raw = tmp_path / "chatgpt-export.json"
    raw.write_text(json.dumps([{"title": "chat", "mapping": {}}]))
    with pytest.raises(ConfigError, match="not a ShareLM export.*sharelm import"):
        load_task_examples(cfg_for(raw))
    csv = tmp_path / "share.csv"
    csv.write_text("conversation_a,model_a\nhi,gpt\n")
    with pytest.raises(ConfigError, match="sharelm import"):
        load_task_examples(cfg_for(csv))


def test_cli_stops_before_building_models(tmp_path):
    save_dataset([conv(rate="thumbs_up")] * 3 + [conv(rate="thumbs_down")] * 3, tmp_path / "x.jsonl")
    out = tmp_path / "run"
    res = CliRunner(env={"COLUMNS": "300"}).invoke(
        app,
        [
            "run",
            "-c",
            f"data-path={tmp_path / 'x.jsonl'}",
            "-c",
            "llm=tiny:llama",
            "-c",
            "slms=tiny:bert",
            "-c",
            "mode=response",
            "-c",
            f"out-dir={out}",
            "-c",
            "public-fraction=0.2",
        ],
    )
    assert res.exit_code == 2 and "min-per-label" in res.output and "Traceback" not in res.output
    assert not (out / "models").exists()


def test_best_of_n_weights_and_balanced_agreement():
    cfg = RunConfig.from_mapping({"mode": "response", "threshold": 0.4, "agree-margin": 0.2})
    answers = [("p", "a"), ("p", "b"), ("q", "c"), ("q", "d")]
    quality = [0.9, 0.6, 0.3, 0.1]
    assert llm_weights(answers, quality, cfg) == [0.9, 0.0, 0.0, 0.0]  # only p's best; q has none over 0.4
    assert llm_weights(answers, quality, cfg.replace(response_select="threshold")) == [0.9, 0.6, 0.0, 0.0]
    pushed = llm_weights(answers, quality, cfg.replace(negative_weight=1.0))
    assert pushed[:2] == [0.9, 0.0] and pushed[3] == pytest.approx(-0.3)
    pool = agreed(answers, quality, 0.4, 0.2)  # 2 liked, as many of the lowest under 0.2: only one is
    assert [(t, y) for t, y, _ in pool] == [("p || a", "liked"), ("p || b", "liked"), ("q || d", "disliked")]
    assert pool[2][2] == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"mode": "chat"}, "mode"),
        ({"task": "x"}, "task"),
        ({"mode": "response", "method": "kd"}, "method"),
        ({"mode": "response", "response-template": "no slot"}, "response-template"),
    ],
)
def test_response_config_errors_name_the_key(values, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        RunConfig.from_mapping(values)
