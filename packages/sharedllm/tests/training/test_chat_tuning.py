from transformers import AutoTokenizer
from typer.testing import CliRunner

from sharedllm.cli import app
from sharedllm.data.chat import encode_chat
from sharedllm.data.datasets import chat_examples
from sharedllm.data.sources import load_texts
from sharedllm.tiny import tiny_sharedllm
from sharelm.io import write_jsonl
from sharelm.schema import Conversation, Message


def _chat(i: int, turns: int = 6) -> Conversation:
    msgs = []
    for t in range(turns):
        msgs.append(Message(role="user", content=f"question {i}.{t}: how do I parse json number {t}?"))
        msgs.append(Message(role="assistant", content=f"use json.loads on item {t} of chat {i}"))
    return Conversation(conversation=msgs, source="test")


def test_long_chats_put_early_turns_in_chunks_and_learn_only_replies(tokenizer):
    messages = [{"role": m.role, "content": m.content} for m in _chat(0).conversation]
    ids, labels = encode_chat(tokenizer, messages)
    dataset = chat_examples([(ids, labels)], chunk_size=32, upper_len=64, max_chunks=8)
    ex = dataset[0]
    assert ex.context_input_ids.shape[0] >= 1  # the chat is longer than the upper window
    # the serving layout: start-anchored chunks, the rest (33 to 64 tokens) up
    assert 33 <= ex.input_ids.numel() <= 64 and torch_equal_tail(ids, ex.input_ids)
    assert (ids.numel() - ex.input_ids.numel()) % 32 == 0  # whole chunks from the start before it
    learnt = tokenizer.decode(ex.labels[ex.labels != -100])
    assert "json.loads" in learnt and "question" not in learnt
    # the query span ends before the last answer: it reads the last question, not the reply
    query = tokenizer.decode(ex.input_ids[: ex.query_end + 1])
    assert query.endswith("json number 5?</s>\n<|assistant|>\n")  # the generation header, as served
    assert "item 5" not in query and int(ex.labels[ex.query_end]) == -100


def torch_equal_tail(full, tail) -> bool:
    return full[-tail.numel() :].tolist() == tail.tolist()


def test_sharelm_export_as_pretraining_text(tmp_path):
    path = tmp_path / "export.jsonl"
    write_jsonl([_chat(0, 2), _chat(1, 2)], path)
    texts = list(load_texts(str(path), kind="sharelm"))
    assert (
        len(texts) == 2
        and texts[0].startswith("User: question 0.0")
        and "Assistant: use json.loads" in texts[0]
    )


def test_train_chat_command_on_a_sharelm_export(tokenizer, tmp_path):
    model_dir = tmp_path / "model"
    tiny_sharedllm(seed=0, vocab_size=len(tokenizer), chunk_size=32, upper_window=64).save_pretrained(
        model_dir
    )
    tokenizer.save_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)  # a copy: the session's tokenizer stays as it is
    tok.chat_template = None  # a base tokenizer without a template gets the default one
    tok.save_pretrained(model_dir)
    (model_dir / "chat_template.jinja").unlink(missing_ok=True)
    export = tmp_path / "chats.jsonl"
    write_jsonl([_chat(i) for i in range(4)], export)
    result = CliRunner().invoke(
        app,
        [
            "train",
            "chat",
            str(model_dir),
            "--out",
            str(tmp_path / "out"),
            *("--set", f"data={export}", "--set", "chunk_size=32", "--set", "upper_len=64"),
            *("--set", "steps=2", "--set", "batch_size=2", "--set", "lr=1e-3"),
            *("--set", "selection_policy=query"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "4 examples" in result.output
    assert "query policy, split noise 0.1" in result.output  # the paper's l/10 for instruction tuning
    saved = AutoTokenizer.from_pretrained(tmp_path / "out" / "final")
    assert saved.chat_template is not None
