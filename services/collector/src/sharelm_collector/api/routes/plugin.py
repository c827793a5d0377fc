"""The public ShareLM plugin's upload route, request and answer unchanged."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from sharelm_collector import crud, ingest
from sharelm_collector.api.deps import OptionalCallerDep, SessionDep, limit_ip, resolve_contributor
from sharelm_collector.core import metrics
from sharelm_collector.core.security import contributor_owner, plugin_owner, plugin_pseudonym
from sharelm_collector.schemas import PluginSaved, problems

router = APIRouter(tags=["plugin"], dependencies=[Depends(limit_ip)],
                   responses=problems(400, 401, 409, 413, 429, 503))


@router.post(
    "/api/endpoint",
    response_model=PluginSaved,
    summary="Upload a conversation in the public plugin's format",
    operation_id="plugin_upload",
    # The token is optional here (anonymous uploads are the public plugin's way): say so in the document.
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},
    description="Drop-in for the public ShareLM backend. Without a token the upload is anonymous: it is "
    "matched to earlier uploads by (plugin user_id, conversation_id), and a re-post may only add messages "
    "after the stored ones (409 otherwise); an upload without a user_id never matches another. Its user_id "
    "is stored and exported as a keyed pseudonym, never as sent. With a contributor token it is owned by "
    "that contributor (readable, ratable, deletable and replaceable through /v1; user_id is the "
    "contributor's id).",
)
def save_plugin_upload(
    upload: ingest.CappedPluginUpload, request: Request, session: SessionDep, caller: OptionalCallerDep
) -> PluginSaved:
    conv = ingest.redacted(ingest.from_plugin(upload))
    if caller is not None:
        contributor_id = resolve_contributor(session, caller)
        conv, document = ingest.document(conv, user_id=contributor_id)  # the caller's identity wins
        status = crud.upsert_conversation(
            session, owner=contributor_owner(contributor_id), contributor_id=contributor_id,
            conversation_id=conv.conversation_id, source=ingest.source_label(conv.source), document=document,
        )
    else:
        pseudonym = plugin_pseudonym(request.app.state.db.keys.get(), upload.user_id)
        conv, document = ingest.document(conv, user_id=pseudonym)
        status = crud.insert_or_extend(
            session, owner=plugin_owner(upload.user_id), conversation_id=conv.conversation_id,
            source=ingest.source_label(conv.source), document=document,
            extends=lambda stored: ingest.extends(conv, stored),
        )
    session.commit()  # acknowledged only once committed
    metrics.STORED.labels(status).inc()
    return PluginSaved(conversation_id=conv.conversation_id)
