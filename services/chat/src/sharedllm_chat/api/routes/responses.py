"""OpenAPI documentation shared by the routes: the error answers each can give, and the links from a
chat turn to the conversation it made (what a stateful test, or a reader, follows)."""

from __future__ import annotations

from sharedllm_chat.schemas.openai import ErrorResponse

_WHY = {
    400: "Invalid request: the message and `param` name the field",
    401: "Missing or wrong API key (when the server has keys)",
    404: "Unknown model, or a conversation unknown to this caller",
    409: "Conflict with the server's configuration",
    413: "Request body over the server's cap",
    429: "Queue full: retry later",
    500: "Internal error (logged); the connection stays usable",
}


def errors(*codes: int) -> dict[int, dict]:
    return {code: {"model": ErrorResponse, "description": _WHY[code]} for code in codes}


ERRORS = errors(400, 401, 404, 413, 429, 500)

_THIS_CONVERSATION = {
    "conversation_id": "$request.path.conversation_id",
    "X-Conversation-Secret": "$request.header.X-Conversation-Secret",
}
_NEW_CONVERSATION = {
    "conversation_id": "$response.body#/conversation_id",
    "X-Conversation-Secret": "$response.header.X-Conversation-Secret",
}


def _links(parameters: dict[str, str]) -> dict[str, dict]:
    return {
        name: {"operationId": op, "parameters": parameters}
        for name, op in (
            ("GetConversation", "getConversation"),
            ("RateConversation", "rateConversation"),
            ("ContributeConversation", "contributeConversation"),
            ("DeleteConversation", "deleteConversation"),
        )
    }


TURN_LINKS = _links(_NEW_CONVERSATION)  # a turn's answer carries the id and, for a new one, its secret
CONVERSATION_LINKS = _links(_THIS_CONVERSATION)  # a conversation endpoint's answer: same id, same secret
