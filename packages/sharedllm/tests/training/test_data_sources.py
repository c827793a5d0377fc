import json

import pytest

from sharedllm.data.chat import encode_chat
from sharedllm.data.corpus import is_heldout, python_source_corpus
from sharedllm.data.sources import load_texts


def test_code_corpus_holds_out_whole_packages(code_root):
    corpus = python_source_corpus(code_root, heldout_fraction=0.3)
    train_pkgs = {d.package for d in corpus.train}
    assert corpus.heldout_packages and train_pkgs
    assert not train_pkgs & set(corpus.heldout_packages)
    assert all(is_heldout(p, 0.3) for p in corpus.heldout_packages)
    doc = next(d for d in corpus.train if d.name == "http")
    assert "# ---- file: http/client.py ----" in doc.text  # files of one directory, in name order
    assert doc.text.index("http/client.py") < doc.text.index("http/server.py")


def test_code_corpus_caps_the_training_side(code_root):
    full = python_source_corpus(code_root, heldout_fraction=0.3)
    capped = python_source_corpus(code_root, heldout_fraction=0.3, max_train_chars=50_000)
    assert sum(len(d.text) for d in capped.train) < sum(len(d.text) for d in full.train)
    assert capped.heldout == full.heldout


def test_missing_corpus_root_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        python_source_corpus(tmp_path / "nope")


def test_text_files_and_jsonl_datasets(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("first document")
    (tmp_path / "docs" / "b.txt").write_text("second document")
    assert list(load_texts(str(tmp_path / "docs"))) == ["first document", "second document"]
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps({"body": f"text {i}"}) for i in range(3)))
    assert list(load_texts(str(rows), kind="hf", text_field="body", limit=2)) == ["text 0", "text 1"]
    with pytest.raises(ValueError, match="no column 'text'"):
        list(load_texts(str(rows), kind="hf"))


def test_tokenizer_round_trips_code(tokenizer, code_root):
    text = (code_root / "json" / "decoder.py").read_text()
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert len(ids) < 0.6 * len(text)  # BPE merges learnt: well under one token per character


def test_chat_labels_cover_assistant_replies_only(tokenizer):
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "parse this json"},
        {"role": "assistant", "content": "json.loads(s)"},
        {"role": "user", "content": "and back"},
        {"role": "assistant", "content": "json.dumps(obj)"},
    ]
    ids, labels = encode_chat(tokenizer, messages)
    learnt = tokenizer.decode(
        [i for i, lab in zip(ids.tolist(), labels.tolist(), strict=True) if lab != -100]
    )
    assert "json.loads(s)" in learnt and "json.dumps(obj)" in learnt
    assert "parse this json" not in learnt and "be brief" not in learnt and "<|assistant|>" not in learnt
