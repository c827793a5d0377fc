import pytest
from pydantic import ValidationError

from sharelm.sources.plugin import PluginUpload, from_upload

# Shaped exactly like the body extension 0.0.2.9 POSTs to /api/endpoint.
UPLOAD = {
    "conversation_id": "3f1c2b9e-8d7a-4c6b-9e5f-1a2b3c4d5e6f",
    "bot_msgs": ["Paris is the capital of France.", "About 2.1 million people."],
    "user_msgs": ["What is the capital of France?", "How many people live there?"],
    "page_url": "https://chatgpt.com/c/abc123?model=gpt-4o&temporary-chat=true#end",
    "user_id": "u-42",
    "user_metadata": {"age": "34", "gender": "female", "location": "France"},
    "timestamp": "2024-06-01T12:30:00.000Z",
    "conversation_metadata": {"message_ratings": [1, 0], "rate": "thumbup"},
}


def test_from_upload_interleaves_and_strips_url():
    conv = from_upload(UPLOAD)
    assert [m.role for m in conv.conversation] == ["user", "assistant", "user", "assistant"]
    assert conv.conversation[1].content == "Paris is the capital of France."
    assert conv.source == "share_lm_plugin"
    assert conv.conversation_id == UPLOAD["conversation_id"]
    assert conv.conversation_metadata.extra["page_url"] == "https://chatgpt.com/c/abc123"
    assert conv.conversation_metadata.message_ratings == [1, 0]
    assert conv.conversation_metadata.rate == "thumbup"
    assert conv.user_metadata.location == "France"


def test_from_upload_accepts_the_model_and_missing_optionals():
    conv = from_upload(PluginUpload(bot_msgs=["hi"], user_msgs=["hello", "bye"]))
    assert [m.content for m in conv.conversation] == ["hello", "hi", "bye"]
    assert conv.conversation_id  # a fresh id when the plugin sent none


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bot_msgs": [""], "user_msgs": ["  "]}, "conversation"),
        ({"conversation_metadata": {"message_ratings": [1, 1, 1]}}, "message_ratings"),
        ({"conversation_metadata": {"rate": "great"}}, "rate"),
        ({"bot_msgs": "not a list"}, "bot_msgs"),
    ],
)
def test_bad_upload_names_the_field(change, field):
    with pytest.raises(ValidationError, match=field):
        from_upload({**UPLOAD, **change})
