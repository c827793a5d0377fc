import json
import os
import subprocess
import sys
from functools import lru_cache
from itertools import islice

import pytest

from sharelm import Conversation
from sharelm.export import features, load_conversations, save_dataset, to_hf_dataset
from sharelm.io import MalformedRowError, read_jsonl, write_jsonl
from sharelm.sources.chatterbot import load_corpus

PUBLIC_COLUMNS = [
    "conversation_id",
    "conversation",
    "model_name",
    "user_id",
    "timestamp",
    "source",
    "user_metadata",
    "conversation_metadata",
]


@lru_cache(maxsize=1)
def _sample() -> tuple[Conversation, ...]:
    convs = list(islice(load_corpus(["english"]), 50))
    rated = Conversation.model_validate(
        {
            "conversation": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            "model_name": "gpt-4o",
            "user_metadata": {"age": "30"},
            "conversation_metadata": {"message_ratings": [-1], "rate": "thumbdown", "extra": {"k": [1, 2]}},
        }
    )
    return (*convs, rated)


def sample() -> list[Conversation]:
    return list(_sample())


@pytest.mark.parametrize("name", ["snap.parquet", "snap_dir", "snap.jsonl", "snap.jsonl.gz"])
def test_round_trip(tmp_path, name):
    convs = sample()
    assert save_dataset(convs, tmp_path / name) == len(convs)
    assert list(load_conversations(tmp_path / name)) == convs


def test_features_match_public_columns():
    ds = to_hf_dataset(sample())
    assert list(ds.features) == PUBLIC_COLUMNS
    assert list(ds.features["user_metadata"]) == ["location", "age", "gender"]
    meta = list(ds.features["conversation_metadata"])
    assert meta[:7] == ["rate", "language", "redacted", "toxic", "title", "custom_instruction", "status"]
    assert ds.features == features()


def test_save_to_disk_loads_with_datasets(tmp_path):
    from datasets import load_from_disk

    save_dataset(sample(), tmp_path / "ds")
    ds = load_from_disk(str(tmp_path / "ds"))
    assert ds.num_rows == 51 and ds[50]["conversation_metadata"]["message_ratings"] == [-1]


def test_public_row_loads_from_parquet_without_our_additions(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = {
        "conversation_id": "x1",
        "conversation": [{"content": "hi", "role": "user"}],
        "model_name": None,
        "user_id": None,
        "timestamp": None,
        "source": "hh",
        "user_metadata": {"location": None},
        "conversation_metadata": {"rate": None, "language": "English"},
    }
    pq.write_table(pa.Table.from_pylist([row]), tmp_path / "public.parquet")
    (conv,) = load_conversations(tmp_path / "public.parquet")
    assert conv.conversation_metadata.language == "English" and conv.conversation_metadata.extra == {}


def test_read_jsonl_reports_file_and_line(tmp_path):
    path = tmp_path / "in.jsonl"
    write_jsonl(sample()[:2], path)
    with path.open("a") as fh:
        fh.write("{not json\n")
        fh.write(json.dumps({"conversation": [{"role": "robot", "content": "x"}]}) + "\n")
    with pytest.raises(MalformedRowError, match=r"in\.jsonl:3: invalid JSON"):
        list(read_jsonl(path))
    errors = []
    assert len(list(read_jsonl(path, on_error=errors.append))) == 2
    assert [e.line for e in errors] == [3, 4] and "conversation.0.role" in errors[1].reason


def test_push_to_hub_builds_the_dataset_and_calls_the_hub(tmp_path):
    """No hub is reachable here: with HF_HUB_OFFLINE the upload stops at the Hub API with a clear error,
    after our dataset was built (the code path for when a hub is reachable)."""
    code = (
        "from itertools import islice\n"
        "from sharelm.export import push_to_hub\n"
        "from sharelm.sources.chatterbot import load_corpus\n"
        "push_to_hub(list(islice(load_corpus(), 3)), 'someone/sharelm-test', token='hf_test')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0
    assert "huggingface.co/api/datasets/someone/sharelm-test" in proc.stderr


def test_datasets_progress_bars_stay_quiet_and_are_restored(tmp_path, capfd):
    """`datasets` prints its own bars (tqdm, on stderr) while saving and loading a directory; inside
    the CLI's bar they interleaved with it."""
    import datasets

    save_dataset(sample(), tmp_path / "snap")
    assert len(list(load_conversations(tmp_path / "snap"))) == len(sample())
    captured = capfd.readouterr()
    assert "Saving the dataset" not in captured.err and "Generating train split" not in captured.err
    assert not datasets.are_progress_bars_disabled()


def test_unknown_output_suffix_is_refused(tmp_path):
    from sharelm.export import output_format

    assert [output_format(tmp_path / n) for n in ("a.jsonl", "a.JSONL.gz", "a.parquet", "dir")] == [
        "jsonl", "jsonl", "parquet", "arrow"
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"out\.txt: unknown output suffix '\.txt'; use \.jsonl"):
        save_dataset(sample(), tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()


def test_load_conversations_reports_bytes_read(tmp_path):
    for name in ("snap.parquet", "snap.jsonl", "snap"):
        save_dataset(sample(), tmp_path / name)
        seen: list[int] = []
        assert len(list(load_conversations(tmp_path / name, on_bytes=seen.append))) == len(sample())
        assert seen and seen[-1] == sum(
            f.stat().st_size for f in [tmp_path / name, *(tmp_path / name).rglob("*")] if f.is_file()
        ), name
