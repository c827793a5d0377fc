"""The public ShareLM plugin's upload route, request and answer unchanged."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sharelm.sources.plugin import PluginUpload
from sharelm_collector import crud, ingest
from sharelm_collector.api.deps import OptionalTokenHash, SessionDep, limit_ip, resolve_contributor
from sharelm_collector.core import metrics
from sharelm_collector.core.security import contributor_owner, plugin_owner
from sharelm_collector.schemas import PluginSaved, problems

router = APIRouter(tags=["plugin"], dependencies=[Depends(limit_ip)], responses=problems(400, 401, 413, 429))


@router.post(
    "/api/endpoint",
    response_model=PluginSaved,
    summary="Upload a conversation in the public plugin's format",
    description="Drop-in for the public ShareLM backend. Without a token the upload is anonymous and "
    "re-posts are matched by (plugin user_id, conversation_id); with a contributor token it is owned by that "
    "contributor (readable, ratable and deletable through /v1).",
)
def save_plugin_upload(
    upload: PluginUpload, session: SessionDep, token_hash: OptionalTokenHash
) -> PluginSaved:
    conv = ingest.redacted(ingest.from_plugin(upload))
    if token_hash is not None:
        contributor_id = resolve_contributor(session, token_hash)
        owner = contributor_owner(contributor_id)
    else:
        contributor_id, owner = None, plugin_owner(conv.user_id)
    conv, document = ingest.document(conv)
    status = crud.upsert_conversation(
        session, owner=owner, contributor_id=contributor_id, conversation_id=conv.conversation_id,
        source=ingest.source_label(conv.source), document=document,
    )
    session.commit()  # acknowledged only once committed
    metrics.STORED.labels(status).inc()
    return PluginSaved(conversation_id=conv.conversation_id)
