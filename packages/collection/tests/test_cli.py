import json
from pathlib import Path

from typer.testing import CliRunner

from sharelm.cli import app
from sharelm.export import load_conversations

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def test_import_build_stats_export(tmp_path):
    imported = tmp_path / "all.jsonl"
    res = runner.invoke(app, ["import", *map(str, sorted(FIXTURES.glob("*.json*"))), "-o", str(imported)])
    assert res.exit_code == 0, res.output
    assert "17 conversations, 11 malformed rows skipped" in res.output
    assert "hh_rlhf.jsonl:4" in res.output  # malformed rows are named by file and line

    built = tmp_path / "built.jsonl"
    res = runner.invoke(
        app,
        ["build", str(imported), str(FIXTURES / "hh_rlhf.jsonl"), "-o", str(built), "--no-language",
         "--drops", str(tmp_path / "drops.jsonl"), "--report", str(tmp_path / "report.json")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["dedup"]["exact"] == 4 and report["written"] == 17

    res = runner.invoke(
        app, ["stats", str(built), "--plot", str(tmp_path / "s.png"), "--json", str(tmp_path / "s.json")]
    )
    assert res.exit_code == 0, res.output
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["conversations"] == 17 and stats["by_source"]["hh-rlhf"] == 4
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    res = runner.invoke(app, ["export", str(built), "-o", str(tmp_path / "snap.parquet")])
    assert res.exit_code == 0, res.output
    assert list(load_conversations(tmp_path / "snap.parquet")) == list(load_conversations(built))


def test_clear_errors_without_tracebacks(tmp_path):
    res = runner.invoke(app, ["import", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2 and "input file not found" in res.output
    (tmp_path / "odd.jsonl").write_text('{"foo": 1}\n')
    res = runner.invoke(app, ["import", str(tmp_path / "odd.jsonl"), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2 and "cannot tell the format" in res.output
    res = runner.invoke(app, ["build", str(tmp_path / "odd.jsonl"), "-o", "x.jsonl", "--threshold", "2"])
    assert res.exit_code == 2 and "--threshold" in res.output
    res = runner.invoke(app, ["export", str(tmp_path / "odd.jsonl"), "-o", "x", "--to", "csv"])
    assert res.exit_code == 2 and "--to must be" in res.output
    assert all(
        r is None or not isinstance(r, Exception) or isinstance(r, SystemExit) for r in [res.exception]
    )


def test_schema_command_prints_the_committed_schema():
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0
    committed = Path(__file__).parents[1] / "src" / "sharelm" / "data" / "conversation.schema.json"
    assert json.loads(res.stdout) == json.loads(committed.read_text())
    res = runner.invoke(app, ["schema", "--rules"])
    assert "REDACTED_EMAIL" in res.stdout
