import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from sharelm import Conversation, conversation_json_schema

# A row exactly as the public shachardon/ShareLM dataset holds it (metadata values are strings or null).
PUBLIC_ROW = {
    "conversation_id": "8c2ad4c6-4b45-4f5b-9d4b-7c1f0f0a1a2b",
    "conversation": [
        {"content": "What is the capital of France?", "role": "user"},
        {"content": "Paris.", "role": "assistant"},
    ],
    "model_name": "gpt-4",
    "user_id": "u-123",
    "timestamp": "2024-05-01T10:00:00Z",
    "source": "share_lm",
    "user_metadata": {"location": None, "age": "30", "gender": None},
    "conversation_metadata": {
        "rate": "thumbup",
        "language": "English",
        "redacted": "False",
        "toxic": None,
        "title": None,
        "custom_instruction": None,
        "status": None,
    },
}


def test_public_row_validates_as_is():
    conv = Conversation.model_validate(PUBLIC_ROW)
    assert conv.conversation[1].content == "Paris."
    assert conv.conversation_metadata.rate == "thumbup"
    row = conv.to_row()
    for key in PUBLIC_ROW:
        assert key in row
    assert row["conversation_metadata"]["message_ratings"] == []


def test_typed_metadata_is_coerced_to_the_public_string_form():
    conv = Conversation.model_validate(
        {
            **PUBLIC_ROW,
            "conversation_metadata": {"toxic": False, "redacted": True},
            "user_metadata": {"age": 30},
        }
    )
    assert conv.conversation_metadata.toxic == "False"
    assert conv.conversation_metadata.redacted == "True"
    assert conv.user_metadata.age == "30"


def _error_locations(exc: ValidationError) -> list[str]:
    return [".".join(str(p) for p in err["loc"]) for err in exc.errors()]


def test_empty_conversation_names_the_field():
    with pytest.raises(ValidationError) as exc:
        Conversation.model_validate({**PUBLIC_ROW, "conversation": []})
    assert "conversation" in _error_locations(exc.value)
    assert "empty" in str(exc.value)


def test_unknown_role_names_the_field():
    bad = {**PUBLIC_ROW, "conversation": [{"role": "robot", "content": "hi"}]}
    with pytest.raises(ValidationError) as exc:
        Conversation.model_validate(bad)
    assert "conversation.0.role" in _error_locations(exc.value)


def test_more_ratings_than_assistant_turns_is_an_error():
    bad = {**PUBLIC_ROW, "conversation_metadata": {"message_ratings": [1, -1]}}
    with pytest.raises(ValidationError) as exc:
        Conversation.model_validate(bad)
    assert "message_ratings" in str(exc.value)


def test_rating_values_are_limited_to_minus_one_zero_one():
    with pytest.raises(ValidationError) as exc:
        Conversation.model_validate({**PUBLIC_ROW, "conversation_metadata": {"message_ratings": [2]}})
    assert "conversation_metadata.message_ratings.0" in _error_locations(exc.value)


def test_oversize_content_uses_the_configurable_cap():
    row = {**PUBLIC_ROW, "conversation": [{"role": "user", "content": "x" * 50}]}
    Conversation.model_validate(row)
    with pytest.raises(ValidationError) as exc:
        Conversation.model_validate(row, context={"max_content_chars": 10})
    assert "conversation.0.content" in _error_locations(exc.value)
    assert "cap of 10" in str(exc.value)


def test_unknown_fields_are_dropped():
    conv = Conversation.model_validate({**PUBLIC_ROW, "ip_address": "1.2.3.4"})
    assert "ip_address" not in conv.to_row()


def test_json_schema_is_exported_and_committed_copy_is_current():
    schema = conversation_json_schema()
    assert schema["properties"]["conversation"]["type"] == "array"
    committed = Path(__file__).parents[1] / "src/sharelm/data/conversation.schema.json"
    assert json.loads(committed.read_text()) == schema, "run `python -m sharelm.schema_export` to refresh"
