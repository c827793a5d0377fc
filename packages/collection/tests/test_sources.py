"""Each adapter on fixture rows shaped like the real source, each file ending in malformed rows."""

import json
from pathlib import Path

import pytest

from sharelm.sources import ImportReport, UnknownFormatError, UnreadableFileError, detect_format, import_file
from sharelm.sources.chatterbot import corpus_dir

FIXTURES = Path(__file__).parent / "fixtures"

# file, detected format, conversations, malformed rows (with their line numbers)
CASES = [
    ("hh_rlhf.jsonl", "hh-rlhf", 4, [3, 4]),
    ("sharegpt.jsonl", "sharegpt", 2, [3]),
    ("openai.jsonl", "openai", 2, [3]),
    ("oasst_messages.jsonl", "oasst", 3, [8]),
    ("wildchat.jsonl", "wildchat", 1, [2]),
    ("lmsys.jsonl", "lmsys-chat-1m", 1, [2]),
    ("prism.jsonl", "prism", 1, [2]),
    ("collective_cognition.json", "collective_cognition", 1, [2]),
    ("plugin_uploads.jsonl", "share_lm_plugin", 1, [2]),
    ("sharelm_rows.jsonl", "sharelm", 1, [2]),
]


@pytest.mark.parametrize(("name", "fmt", "n_convs", "bad_lines"), CASES)
def test_adapter_detects_converts_and_reports(name, fmt, n_convs, bad_lines):
    path = FIXTURES / name
    assert detect_format(path) == fmt
    report = ImportReport()
    convs = list(import_file(path, report=report))
    assert len(convs) == n_convs == report.conversations
    assert [e.line for e in report.errors] == bad_lines and report.skipped == len(bad_lines)
    assert all(e.path == str(path) and e.reason for e in report.errors)
    assert all(c.conversation for c in convs)


def convs_of(name):
    return list(import_file(FIXTURES / name))


def test_hh_rlhf_pairs_are_linked_with_preference():
    chosen, rejected = convs_of("hh_rlhf.jsonl")[:2]
    assert chosen.conversation_metadata.extra["preference"] == "chosen"
    assert rejected.conversation_metadata.extra["paired_with"] == chosen.conversation_id
    assert chosen.conversation_metadata.extra["pair_id"] == rejected.conversation_metadata.extra["pair_id"]
    assert chosen.conversation_metadata.message_ratings == [0, 1]
    assert rejected.conversation_metadata.message_ratings == [0, -1]
    assert [m.role for m in chosen.conversation] == ["user", "assistant", "user", "assistant"]
    # Re-importing gives the same ids (content-derived).
    assert convs_of("hh_rlhf.jsonl")[0].conversation_id == chosen.conversation_id


def test_oasst_every_root_to_leaf_path_with_ranks():
    convs = convs_of("oasst_messages.jsonl")
    paths = sorted(c.conversation_metadata.extra["message_ids"] for c in convs)
    assert paths == [["d1", "d2"], ["m1", "m2", "m4", "m5"], ["m1", "m3"]]
    by_leaf = {c.conversation_id: c for c in convs}
    assert by_leaf["oasst-m3"].conversation_metadata.extra["ranks"] == [None, 1]
    assert by_leaf["oasst-d2"].conversation_metadata.language == "Spanish"


def test_oasst_nested_tree_layout(tmp_path):
    tree = {
        "message_tree_id": "t1",
        "prompt": {
            "message_id": "p", "text": "Hi", "role": "prompter", "lang": "de",
            "replies": [
                {"message_id": "a1", "text": "Hallo", "role": "assistant", "rank": 0, "replies": []},
                {"message_id": "a2", "text": "Servus", "role": "assistant", "rank": 1, "replies": []},
            ],
        },
    }  # fmt: skip
    path = tmp_path / "trees.jsonl"
    path.write_text(json.dumps(tree) + "\n")
    convs = list(import_file(path))
    assert sorted(c.conversation[-1].content for c in convs) == ["Hallo", "Servus"]


def test_openai_skips_tool_turns_and_joins_parts():
    first, second = convs_of("openai.jsonl")
    assert [m.role for m in first.conversation] == ["system", "user", "assistant"]
    assert first.conversation[-1].content == "It is 18C."
    assert second.conversation[0].role == "system" and second.conversation[1].content == "Hello"


def test_wildchat_lmsys_prism_metadata():
    (wc,) = convs_of("wildchat.jsonl")
    assert wc.model_name == "gpt-3.5-turbo-0301" and wc.conversation_metadata.toxic == "False"
    assert wc.user_metadata.location == "Texas, United States"
    (lm,) = convs_of("lmsys.jsonl")
    assert lm.conversation_metadata.toxic == "True" and lm.conversation_metadata.redacted == "True"
    (pr,) = convs_of("prism.jsonl")
    assert [m.content for m in pr.conversation if m.role == "assistant"] == [
        "Sometimes, to spare feelings...",
        "A surprise party.",
    ]
    assert pr.conversation_metadata.extra["prism_scores"][0] == {"turn": 0, "chosen": 80, "others": [40]}


def test_collective_cognition_and_plugin():
    (cc,) = convs_of("collective_cognition.json")
    assert cc.conversation_metadata.title == "Python list comprehension" and cc.model_name == "ChatGPT 3.5"
    (pl,) = convs_of("plugin_uploads.jsonl")
    assert pl.conversation_metadata.extra["page_url"] == "https://huggingface.co/chat/conversation/65f"


def test_chatterbot_yaml_file():
    path = corpus_dir() / "english" / "greetings.yml"
    assert detect_format(path) == "chatterbot_corpus"
    convs = list(import_file(path))
    assert convs and convs[0].conversation_metadata.extra["topic"] == "greetings"


def test_unknown_format_is_a_clear_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"foo": 1}\n')
    with pytest.raises(UnknownFormatError, match="cannot tell the format"):
        detect_format(path)
    with pytest.raises(UnknownFormatError, match="unknown format 'nope'"):
        list(import_file(path, format="nope"))


def test_truncated_json_file_is_a_json_error_at_its_line(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('[\n  {"conversations": [\n    {"from": "human", "value": "hi"},\n    {"from": "gp')
    with pytest.raises(UnreadableFileError, match=r"cut\.json:4: invalid JSON \(column 14\): Unterminated"):
        detect_format(path)
    # With --format the file is still read: its one error is reported like any malformed row.
    report = ImportReport()
    assert list(import_file(path, format="sharegpt", report=report)) == []
    (error,) = report.errors
    assert (error.line, error.reason) == (4, "invalid JSON (column 14): Unterminated string starting at")


def test_import_counts_the_bytes_read(tmp_path):
    report = ImportReport()
    names = ["hh_rlhf.jsonl", "collective_cognition.json"]
    for name in names:
        list(import_file(FIXTURES / name, report=report))
    assert report.bytes_read == sum((FIXTURES / n).stat().st_size for n in names)
