import json
from pathlib import Path

from sharelm_bench.generate import generate

from sharelm import Conversation
from sharelm.export import load_conversations
from sharelm.io import write_jsonl
from sharelm.pipeline import BuildOptions, build

FIXTURES = Path(__file__).parent / "fixtures"


def test_build_merges_sources_redacts_dedups_and_tags(tmp_path):
    generated = tmp_path / "gen.jsonl"
    convs = list(generate(400, seed=3, pii_rate=0.3, exact_dup_rate=0.05, near_dup_rate=0.05))
    write_jsonl(convs, generated)
    inputs = [
        generated,
        FIXTURES / "hh_rlhf.jsonl",
        FIXTURES / "plugin_uploads.jsonl",
        FIXTURES / "hh_rlhf.jsonl",
    ]
    out, drops = tmp_path / "built.parquet", tmp_path / "drops.jsonl"
    report = build(inputs, out, BuildOptions(), drops_path=drops)

    built = list(load_conversations(out))
    assert len(built) == report.written
    # 4 conversations of the second hh_rlhf copy are exact duplicates; generated ones include some.
    assert report.dedup["exact"] >= 4 + 10 and report.dedup["near"] >= 5
    assert report.written == report.imported.conversations - report.dedup["exact"] - report.dedup["near"]
    logged = [json.loads(line) for line in drops.read_text().splitlines()]
    assert len(logged) == report.dedup["exact"] + report.dedup["near"]
    assert {r["reason"] for r in logged} == {"exact", "near"}
    # Malformed fixture rows were reported, not fatal.
    assert report.imported.skipped == 2 * 2 + 1
    # Redaction happened and is summarised per conversation.
    redacted = [c for c in built if c.conversation_metadata.redacted == "True"]
    assert 50 < len(redacted) <= report.redacted_conversations  # redaction runs before dedup drops some
    assert all(c.conversation_metadata.extra["redactions"] for c in redacted)
    assert "bob@example.com" not in out.read_bytes().decode("latin-1")
    # Language tagging filled what the sources left empty.
    assert all(c.conversation_metadata.language for c in built)
    assert report.peak_rss_mb > 0


def test_build_stages_can_be_switched_off(tmp_path):
    src = tmp_path / "in.jsonl"
    convs = list(generate(50, seed=1, pii_rate=1.0, exact_dup_rate=0.2, near_dup_rate=0))
    write_jsonl(convs, src)
    opts = BuildOptions(redact=False, dedup=False, language=False)
    report = build([src], tmp_path / "out.jsonl", opts)
    assert report.written == 50 and report.redacted_conversations == 0
    assert list(load_conversations(tmp_path / "out.jsonl")) == convs


def test_exact_drops_name_the_kept_conversation(tmp_path):
    from sharelm.dedup import content_key

    src, out, drops = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "drops.jsonl"
    convs = list(generate(300, seed=5, pii_rate=0, exact_dup_rate=0.2, near_dup_rate=0.05))
    write_jsonl(convs, src)
    by_id = {c.conversation_id: c for c in convs}
    for near in (False, True):
        build([src], out, BuildOptions(redact=False, near_dup=near, language=False), drops_path=drops)
        kept = {c.conversation_id: c for c in load_conversations(out)}
        exact = [r for r in map(json.loads, drops.read_text().splitlines()) if r["reason"] == "exact"]
        assert len(exact) >= 30
        assert all(r["duplicate_of"] in kept for r in exact)  # written, not dropped itself
        if not near:  # else it may name the kept conversation its first copy was a near duplicate of
            for r in exact:
                assert content_key(by_id[r["conversation_id"]]) == content_key(kept[r["duplicate_of"]])


def test_exact_duplicate_ids_are_remembered_for_a_bounded_window():
    from sharelm.dedup import Deduplicator

    def conv(i: int, cid: str) -> Conversation:
        return Conversation.model_validate(
            {"conversation_id": cid, "conversation": [{"role": "user", "content": f"question {i}"}]}
        )

    dedup = Deduplicator(near=False, window=5)
    firsts = [conv(i, f"c{i}") for i in range(20)]
    kept = list(dedup.filter([*firsts, conv(0, "again-0"), conv(19, "again-19")]))
    assert kept == firsts
    drops = [(r.conversation_id, r.duplicate_of) for r in dedup.pop_drops()]
    # c0 is older than the last 5 distinct conversations: still dropped, its id forgotten.
    assert drops == [("again-0", None), ("again-19", "c19")]
    assert len(dedup._kept_ids.ids) == 5
