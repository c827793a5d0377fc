"""`POST /v1/chat/completions`: OpenAI's chat API, streamed over SSE or answered whole."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from sharedllm_chat.api.deps import SECRET_HEADER, get_caller, get_secret, get_state
from sharedllm_chat.api.errors import APIError, conversation_not_found, error_body
from sharedllm_chat.api.identity import Caller
from sharedllm_chat.api.routes.responses import ERRORS, TURN_LINKS
from sharedllm_chat.app_state import AppState
from sharedllm_chat.crud.conversations import ConversationNotFound, ConversationRecord
from sharedllm_chat.engine.events import Done, Event, Failed, Token
from sharedllm_chat.engine.prompt import render_ids
from sharedllm_chat.engine.sampling import SamplingParams
from sharedllm_chat.engine.scheduler import GenerationRequest, QueueFull
from sharedllm_chat.schemas.fields import ConversationId
from sharedllm_chat.schemas.openai import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessageOut,
    Choice,
    ChunkChoice,
    Delta,
    Usage,
)
from sharelm import Conversation, Message

router = APIRouter(prefix="/v1", tags=["chat"])
log = logging.getLogger(__name__)

CONVERSATION_HEADER = "X-Conversation-Id"
_DISCONNECT_POLL_S = 0.2


class _Turn:
    """One request in flight: the bridge from the worker thread's events to this request's event loop."""

    def __init__(
        self,
        state: AppState,
        body: ChatCompletionRequest,
        caller: Caller,
        record: ConversationRecord,
        new_secret: str | None,
        prepared: tuple[list[Message], list[int], SamplingParams],
    ) -> None:
        self.state, self.body, self.caller, self.record = state, body, caller, record
        self.conversation_id, self.new_secret = record.key[1], new_secret
        self.messages, prompt_ids, self.params = prepared
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        context_key = state.conversations.context_key(record.key)
        self.request = GenerationRequest(
            prompt_ids, self.params, emit=self._emit, conversation_id=context_key
        )
        self.text: list[str] = []
        self.finished = False

    def _emit(self, event: Event) -> None:
        """Called on the worker thread: hand the event to this request's event loop."""
        try:
            self._loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the loop is closed (server shutting down): nobody is listening any more
            self.cancel()

    def cancel(self) -> None:
        self.request.cancelled.set()

    def close(self) -> None:
        """However the answer ended (done, failed, client gone, an error of ours): no work goes on, and a
        first turn that was not recorded gives its conversation id back."""
        self.cancel()
        self.state.conversations.abandon(self.record)  # a no-op once the turn is recorded

    @property
    def headers(self) -> dict[str, str]:
        headers = {CONVERSATION_HEADER: self.conversation_id}
        if self.new_secret:
            headers[SECRET_HEADER] = self.new_secret
        return headers

    def finish(self, done: Done) -> Usage:
        """Record the turn as a sharelm Conversation (and contribute it if the user opted in)."""
        state = self.state
        self.finished = True
        usage = Usage(
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            total_tokens=done.prompt_tokens + done.completion_tokens,
        )
        state.metrics.requests.labels(done.finish_reason).inc()
        log.info(
            "chat completion",
            extra={
                "conversation_id": self.conversation_id,
                "finish_reason": done.finish_reason,
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": done.completion_tokens,
                "context_chunks": done.context_chunks,
                "chunks_encoded": done.chunks_encoded,
                "queue_s": round(done.queue_s, 4),
                "ttft_s": None if done.ttft_s is None else round(done.ttft_s, 4),
            },
        )
        if done.finish_reason != "cancelled":
            state.conversations.record_turn(
                self.record,
                self.messages,
                "".join(self.text),
                state.loaded.name,
                self.caller.user or self.body.user,  # a per-user key's user cannot be claimed by another
                self.body.contribute,
            )
            state.contribute_later(self.record)
        return usage


def _params(body: ChatCompletionRequest, state: AppState) -> SamplingParams:
    limit = state.settings.max_tokens_limit
    requested = body.requested_max_tokens
    if requested is not None and requested > limit:
        raise APIError(
            400,
            f"max_tokens is {requested}, over this server's limit of {limit}",
            param="max_tokens",
            code="max_tokens_exceeded",
        )
    max_new_tokens = requested or min(state.settings.default_max_tokens, limit)
    if body.min_tokens > max_new_tokens:
        raise APIError(
            400, f"min_tokens ({body.min_tokens}) is over max_tokens ({max_new_tokens})", param="min_tokens"
        )
    return SamplingParams(
        max_new_tokens=max_new_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        stop=tuple(body.stop),
        min_tokens=body.min_tokens,
    )


def _conversation_messages(body: ChatCompletionRequest) -> list[Message]:
    """The request's messages as the shared schema's, validated by it (sizes, roles)."""
    rows = [{"role": m.role, "content": m.text} for m in body.messages]
    try:
        return Conversation.model_validate({"conversation": rows}).conversation
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise APIError(400, f"messages: {reasons}", param="messages") from exc


async def _prepare(
    body: ChatCompletionRequest, state: AppState
) -> tuple[list[Message], list[int], SamplingParams]:
    """Everything that can refuse the request, before it claims a conversation or queues any work."""
    if body.model != state.loaded.name:
        raise APIError(
            404,
            f"model '{body.model}' does not exist; this server serves '{state.loaded.name}'",
            param="model",
            code="model_not_found",
        )
    params = _params(body, state)
    messages = _conversation_messages(body)
    rows = [m.model_dump() for m in messages]
    prompt_ids = await run_in_threadpool(render_ids, state.loaded.tokenizer, rows)
    limit = state.settings.max_input_tokens
    if not state.loaded.supports_context:  # a plain model reads everything itself: its positions are the cap
        limit = min(limit, state.loaded.max_positions - params.max_new_tokens)
    if len(prompt_ids) > limit:
        raise APIError(
            400,
            f"the conversation is {len(prompt_ids)} tokens long, over this server's input "
            f"limit of {limit} tokens",
            param="messages",
            code="context_length_exceeded",
        )
    return messages, prompt_ids, params


def _start_turn(
    body: ChatCompletionRequest,
    state: AppState,
    caller: Caller,
    conversation_id: str,
    secret: str | None,
    prepared: tuple[list[Message], list[int], SamplingParams],
) -> _Turn:
    key = (caller.owner, conversation_id)
    try:
        record, new_secret = state.conversations.open_turn(key, secret, bind_by_secret=caller.user is None)
    except ConversationNotFound:
        raise conversation_not_found(conversation_id) from None
    turn = _Turn(state, body, caller, record, new_secret, prepared)
    try:
        state.scheduler.submit(turn.request)
    except QueueFull as exc:
        turn.close()
        state.metrics.requests.labels("rejected_queue_full").inc()
        raise APIError(429, str(exc), code="queue_full") from exc
    state.metrics.prompt_tokens.inc(len(turn.request.prompt_ids))
    return turn


class _TurnStream(EventSourceResponse):
    """The SSE answer; whatever ends it (done, client gone, a failure sending the headers) ends the turn."""

    def __init__(self, turn: _Turn) -> None:
        super().__init__(_stream(turn), headers=turn.headers, sep="\n", ping=15)
        self.turn = turn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.turn.close()


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    operation_id="createChatCompletion",
    description=(
        "OpenAI's chat completions. The conversation is the body's `conversation_id`, else the "
        f"`{CONVERSATION_HEADER}` header, else a new id; it comes back in that header and the body. A caller "
        f"without a per-user API key gets `{SECRET_HEADER}` (and `conversation_secret`) at a conversation's "
        "first turn and sends it back to continue it or use the /v1/conversations endpoints."
    ),
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "headers": {
                CONVERSATION_HEADER: {"schema": {"type": "string"}, "description": "the conversation's id"},
                SECRET_HEADER: {
                    "schema": {"type": "string"},
                    "description": "on a conversation's first turn, for a caller without a per-user key",
                },
            },
            "links": TURN_LINKS,
        },
        **ERRORS,
    },
)
async def create_chat_completion(
    body: ChatCompletionRequest,
    request: Request,
    response: Response,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(get_caller),
    # Kept out of the OpenAPI parameters (the description names it): schema-driven tools read an "...-Id"
    # header as a key of a resource nothing produces, and would never start a conversation.
    x_conversation_id: Annotated[
        ConversationId | None, Header(alias=CONVERSATION_HEADER, include_in_schema=False)
    ] = None,
    header_secret: str | None = Depends(get_secret),
):
    conversation_id = body.conversation_id or x_conversation_id or uuid.uuid4().hex
    prepared = await _prepare(body, state)
    secret = body.conversation_secret or header_secret
    turn = _start_turn(body, state, caller, conversation_id, secret, prepared)
    if body.stream:
        return _TurnStream(turn)
    try:
        response.headers.update(turn.headers)
        return await _complete(turn, request)
    finally:
        turn.close()


async def _complete(turn: _Turn, request: Request) -> ChatCompletion:
    watcher = asyncio.create_task(_cancel_on_disconnect(turn, request))
    try:
        while True:
            event = await turn.events.get()
            if isinstance(event, Token):
                turn.text.append(event.text)
            elif isinstance(event, Failed):
                raise APIError(500, event.message)
            else:
                break
    finally:
        watcher.cancel()
    usage = turn.finish(event)
    return ChatCompletion(
        id=turn.id,
        created=turn.created,
        model=turn.state.loaded.name,
        usage=usage,
        conversation_id=turn.conversation_id,
        conversation_secret=turn.new_secret,
        choices=[
            Choice(
                message=ChatMessageOut(content="".join(turn.text)),
                finish_reason="length" if event.finish_reason == "length" else "stop",
            )
        ],
    )


async def _cancel_on_disconnect(turn: _Turn, request: Request) -> None:
    while not await request.is_disconnected():
        await asyncio.sleep(_DISCONNECT_POLL_S)
    turn.cancel()


async def _stream(turn: _Turn) -> AsyncIterator[str]:
    """SSE `data:` payloads in OpenAI's chunk format, then `[DONE]`. Closing early cancels generation."""

    def chunk(
        delta: Delta, finish: str | None = None, usage: Usage | None = None, first: bool = False
    ) -> str:
        choices = [ChunkChoice(delta=delta, finish_reason=finish)] if delta is not None else []
        return ChatCompletionChunk(
            id=turn.id,
            created=turn.created,
            model=turn.state.loaded.name,
            choices=choices,
            usage=usage,
            conversation_id=turn.conversation_id,
            conversation_secret=turn.new_secret if first else None,
        ).model_dump_json(exclude_none=False)

    try:
        yield chunk(Delta(role="assistant", content=""), first=True)
        while True:
            event = await turn.events.get()
            if isinstance(event, Token):
                turn.text.append(event.text)
                yield chunk(Delta(content=event.text))
            elif isinstance(event, Failed):
                yield json.dumps(error_body(500, event.message))
                return
            else:
                break
        usage = turn.finish(event)
        yield chunk(Delta(), finish="length" if event.finish_reason == "length" else "stop")
        opts = turn.body.stream_options
        if opts is not None and opts.include_usage:
            yield chunk(None, usage=usage)
        yield "[DONE]"
    finally:
        # The client went away (sse-starlette cancels this generator) or we are done: stop decoding.
        with contextlib.suppress(Exception):
            turn.cancel()
            if not turn.finished:
                turn.state.metrics.requests.labels("cancelled").inc()
