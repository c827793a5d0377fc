"""The OpenAI chat-completions protocol, the subset this service implements (field names as OpenAI's)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sharedllm_chat.schemas.fields import ConversationId, Text

# Below these, float32 sampling breaks (temperature 1e-45 divides logits to inf; top_p 1e-300 is 0 in
# float32 and drops every token): 400, not a 500 from the sampler.
MIN_TEMPERATURE = 1e-5
MIN_TOP_P = 1e-6
# torch.Generator.manual_seed's range.
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1

# OpenAI's newer name for the system role; mapped to "system" since the chat template knows only three.
_ROLE_ALIASES = {"developer": "system"}


class TextPart(BaseModel):
    type: Literal["text"]
    text: Text


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: Text | list[TextPart]
    name: Text | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        return _ROLE_ALIASES.get(value, value) if isinstance(value, str) else value

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    # Unknown OpenAI fields (logprobs, tools, ...) are ignored rather than refused, as most servers do.
    model_config = ConfigDict(extra="ignore")

    model: Text
    messages: list[ChatMessageIn] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0, description=f"0 (greedy) or {MIN_TEMPERATURE} to 2")
    top_p: float = Field(1.0, ge=MIN_TOP_P, le=1.0)
    stop: list[Text] = Field(default_factory=list)
    seed: int | None = Field(None, ge=SEED_MIN, le=SEED_MAX)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1, description="one choice per request")
    user: Text | None = Field(None, max_length=256)
    # Ours (sent with the openai client's `extra_body`): the conversation whose context cache to reuse,
    # and the user's opt-in to contribute the conversation to the ShareLM collection.
    conversation_id: ConversationId | None = None
    # The secret the conversation's first turn returned (or the X-Conversation-Secret header): without a
    # per-user API key, it is what proves the conversation is the caller's.
    conversation_secret: str | None = Field(None, max_length=200)
    # vLLM's extension: no end-of-sequence before this many tokens.
    min_tokens: int = Field(0, ge=0)
    contribute: bool | None = None

    @field_validator("stop", mode="before")
    @classmethod
    def _stops(cls, value: Any) -> Any:
        stops = [value] if isinstance(value, str) else (value or [])
        if isinstance(stops, list) and len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        if isinstance(stops, list) and any(s == "" for s in stops):
            raise ValueError("stop sequences must not be empty")
        return stops

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, value: float) -> float:
        if 0.0 < value < MIN_TEMPERATURE:
            raise ValueError(f"must be 0 (greedy) or at least {MIN_TEMPERATURE}")
        return value

    @model_validator(mode="after")
    def _turns(self) -> ChatCompletionRequest:
        if self.messages[-1].role != "user":
            raise ValueError("the last message must be from the user")
        if not self.messages[-1].text.strip():
            raise ValueError("the last user message is empty")
        return self

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None
    conversation_id: str
    # Only on the turn that started the conversation, for a caller without a per-user API key: send it back
    # (X-Conversation-Secret) to continue, read, rate or delete the conversation.
    conversation_secret: str | None = None


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    conversation_id: str
    conversation_secret: str | None = None  # in the first chunk of a conversation's first turn


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "sharedllm-chat"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
