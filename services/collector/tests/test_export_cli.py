"""The operator CLI against a live server's database: `sharelm-collector export` writes a Hugging Face
dataset through `sharelm.export` (readable back with `sharelm.export.load_conversations` and
`datasets.load_from_disk`, deleted conversations absent); `forget-plugin-user` erases an anonymous plugin
user's uploads."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import datasets
import pytest

from sharelm.export import load_conversations
from sharelm_collector.devtools.samples import conversation, plugin_upload


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "sharelm_collector", *args], env=env, capture_output=True,
                          text=True, timeout=300)


# SQLite only: the export reads through the same Core query on both databases, and that query is covered on
# both by GET /v1/export in the API suite; the dataset writing after it is sharelm's.
@pytest.mark.parametrize("api", ["sqlite"], indirect=True)
def test_export_writes_a_dataset_without_deleted_rows(api, tmp_path):
    _, auth = api.contributor()
    kept, gone = conversation(turns=2), conversation()
    api.post("/v1/conversations", json=kept, headers=auth)
    api.post("/v1/conversations", json=gone, headers=auth)
    api.delete(f"/v1/conversations/{gone['conversation_id']}", headers=auth)
    out = tmp_path / "dataset"
    result = run_cli("export", str(out), database_url=api.server.database_url)
    assert result.returncode == 0, result.stderr
    exported = {c.conversation_id: c for c in load_conversations(out)}
    assert kept["conversation_id"] in exported and gone["conversation_id"] not in exported
    assert len(exported) == len(api.export())
    assert [m.content for m in exported[kept["conversation_id"]].conversation] == [
        m["content"] for m in kept["conversation"]]
    ds = datasets.load_from_disk(str(out))
    columns = {"conversation_id", "conversation", "user_metadata", "conversation_metadata"}
    assert columns <= set(ds.column_names)

    jsonl = tmp_path / "all.jsonl"
    assert run_cli("export", str(jsonl), database_url=api.server.database_url).returncode == 0
    assert len(jsonl.read_text().split("\n")) == len(exported) + 1
    bad = run_cli("export", str(tmp_path / "x"), "--format", "csv", database_url=api.server.database_url)
    assert bad.returncode != 0 and "--format" in bad.stderr


def test_forget_plugin_user(api):
    user = "forget-me-" + uuid.uuid4().hex
    mine = [{**plugin_upload(), "user_id": user} for _ in range(2)]
    other = plugin_upload()
    for body in (*mine, other):
        assert api.post("/api/endpoint", json=body).status_code == 200
    result = run_cli("forget-plugin-user", user, database_url=api.server.database_url)
    assert result.returncode == 0 and "deleted 2 conversations" in result.stdout, result.stderr
    exported = {c["conversation_id"] for c in api.export()}
    assert not {b["conversation_id"] for b in mine} & exported and other["conversation_id"] in exported
