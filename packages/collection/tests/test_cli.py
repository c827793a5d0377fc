import json
import os
import re
import subprocess
import sys
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


# --- A new user's paths (issue 13) ---

HH = FIXTURES / "hh_rlhf.jsonl"
# Runs the CLI in a fresh interpreter where the named modules cannot be imported, as in an environment
# without that extra (a None entry in sys.modules makes `import` raise ModuleNotFoundError).
WITHOUT = "import sys; sys.modules.update(dict.fromkeys({mods!r})); from sharelm.cli import app; app()"


def run_without(mods: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = WITHOUT.format(mods=mods)
    env = {**os.environ, "COLUMNS": "200"}  # one message per line
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_build_without_the_clean_extra_still_drops_exact_duplicates(tmp_path):
    clean = ["numpy", "datasketch", "lingua"]
    args = ["build", str(HH), str(HH), "-o", "out.jsonl", "--drops", "drops.jsonl", "--report", "r.json"]
    proc = run_without(clean, *args, "--no-near-dup", "--no-language", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["dedup"]["exact"] == 4
    drops = [json.loads(line) for line in (tmp_path / "drops.jsonl").read_text().splitlines()]
    assert len(drops) == 4 and all(d["duplicate_of"] for d in drops)
    # The stages that need the extra stop before any work, saying how to install it or skip the stage.
    proc = run_without(clean, *args, "--no-language", cwd=tmp_path)
    assert proc.returncode == 2
    assert 'pip install "./packages/collection[clean]"' in proc.stderr and "--no-near-dup" in proc.stderr
    proc = run_without(clean, *args, "--no-near-dup", cwd=tmp_path)
    assert proc.returncode == 2 and "lingua" in proc.stderr and "--no-language" in proc.stderr


def test_stats_without_matplotlib_prints_counts_and_says_how_to_plot(tmp_path):
    proc = run_without(["matplotlib"], "stats", str(HH), cwd=tmp_path)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["conversations"] == 4  # stdout is the JSON alone
    assert 'pip install "./packages/collection[plot]"' in proc.stderr and "--no-plot" in proc.stderr
    assert not (tmp_path / "sharelm-stats.png").exists()
    proc = run_without(["matplotlib"], "stats", str(HH), "--no-plot", cwd=tmp_path)
    assert proc.returncode == 0 and "matplotlib" not in proc.stderr
    proc = run_without(["matplotlib"], "stats", str(HH), "--plot", "s.png", cwd=tmp_path)
    assert proc.returncode == 2 and "[plot]" in proc.stderr and proc.stdout == ""  # asked for: refused first


def test_stats_plot_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["stats", str(HH), "--plot", ""])
    assert res.exit_code == 2 and "--plot needs a file name" in res.output
    res = runner.invoke(app, ["stats", str(HH), "--no-plot"])
    assert res.exit_code == 0 and "plot ->" not in res.output
    assert not (tmp_path / "sharelm-stats.png").exists()
    res = runner.invoke(app, ["stats", str(HH)])
    assert res.exit_code == 0 and (tmp_path / "sharelm-stats.png").read_bytes()[:4] == b"\x89PNG"


def test_truncated_json_is_a_json_error_at_its_line(tmp_path):
    text = (FIXTURES / "collective_cognition.json").read_text()
    truncated = tmp_path / "cut.json"
    truncated.write_text(text[: len(text) // 2])
    line = len(text[: len(text) // 2].splitlines())
    for command in (["import", str(truncated), "-o", str(tmp_path / "o.jsonl")],
                    ["build", str(truncated), "-o", str(tmp_path / "o.jsonl"), "--no-language"],
                    ["stats", str(truncated), "--no-plot"]):  # fmt: skip
        res = runner.invoke(app, command)
        assert res.exit_code == 2, res.output
        assert f"cut.json:{line}: invalid JSON" in res.output
        assert "cannot tell the format" not in res.output


def test_a_run_that_imports_nothing_says_why_and_fails(tmp_path):
    out = tmp_path / "o.jsonl"
    for command in (["import", str(HH), "--format", "sharegpt", "-o", str(out)],
                    ["build", str(HH), "--format", "sharegpt", "-o", str(out), "--no-language"],
                    ["export", str(HH), "--format", "sharegpt", "-o", str(out)]):  # fmt: skip
        res = runner.invoke(app, command)
        text = " ".join(res.output.split())
        assert res.exit_code == 1, res.output
        assert "nothing imported: every one of the 4 rows failed the chosen format 'sharegpt'" in text
        assert "looks like hh-rlhf" in text and not out.exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = runner.invoke(app, ["import", str(empty), "--format", "sharegpt", "-o", str(out)])
    assert res.exit_code == 1 and "holds no rows" in res.output


def test_unknown_output_suffixes_are_refused(tmp_path):
    out = tmp_path / "out.txt"
    for command in (["build", str(HH), "-o", str(out)], ["export", str(HH), "-o", str(out)]):
        res = runner.invoke(app, command)
        assert res.exit_code == 2
        assert ".jsonl, .jsonl.gz, .parquet, or a path without a suffix" in " ".join(res.output.split())
        assert not out.exists()
    res = runner.invoke(app, ["import", str(HH), "-o", str(out)])
    assert res.exit_code == 2 and "NAME.jsonl" in res.output and not out.exists()
    res = runner.invoke(app, ["export", str(HH), "-o", str(tmp_path / "x.parquet"), "--to", "arrow"])
    assert res.exit_code == 2 and "--to arrow does not match" in res.output


def read_all_of(output: str) -> bool:
    """The progress line ends at its total: `581/581 bytes` or `2.7/2.7 kB` (rich's DownloadColumn)."""
    return re.search(r"(?<![\d.])([\d.]+)/\1 (bytes|kB|MB|GB)", output) is not None


def test_progress_shows_the_total(tmp_path):
    res = runner.invoke(app, ["build", str(HH), "-o", str(tmp_path / "b.jsonl"), "--no-language"])
    assert res.exit_code == 0
    assert f"{HH.stat().st_size}/{HH.stat().st_size} bytes" in res.output and "4 conversations" in res.output
    res = runner.invoke(app, ["stats", str(HH), "--no-plot"])
    assert read_all_of(res.output)
    res = runner.invoke(app, ["export", str(tmp_path / "b.jsonl"), "-o", str(tmp_path / "snapshot")])
    assert res.exit_code == 0, res.output
    assert read_all_of(res.output)
    assert len(list(load_conversations(tmp_path / "snapshot"))) == 4
