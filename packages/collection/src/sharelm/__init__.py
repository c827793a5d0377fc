"""ShareLM collection: the platform's shared conversation schemas and the tools that build a collection."""

from sharelm.schema import (
    ROLES,
    Conversation,
    ConversationMetadata,
    Message,
    UserMetadata,
    conversation_json_schema,
)

__all__ = [
    "ROLES",
    "Conversation",
    "ConversationMetadata",
    "Message",
    "UserMetadata",
    "conversation_json_schema",
]
__version__ = "0.1.0"
