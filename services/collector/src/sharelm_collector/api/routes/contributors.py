"""Contributors: a secret token per contributor, and the right to erase everything they gave."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from sharelm_collector import crud
from sharelm_collector.api.deps import SessionDep, TokenHash, limit_ip, limit_signups, resolve_contributor
from sharelm_collector.core import metrics
from sharelm_collector.schemas import ContributorCreated, Deleted, problems

router = APIRouter(
    prefix="/v1/contributors", tags=["contributors"], dependencies=[Depends(limit_ip)],
    responses=problems(401, 429),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContributorCreated,
    dependencies=[Depends(limit_signups)],
    summary="Register a contributor; the token is shown once",
)
def create_contributor(session: SessionDep) -> ContributorCreated:
    contributor, token = crud.create_contributor(session)
    session.commit()
    return ContributorCreated(contributor_id=contributor.id, token=token)


@router.delete("/me", response_model=Deleted, summary="Erase me: my token and every conversation I gave")
def erase_me(session: SessionDep, token_hash: TokenHash) -> Deleted:
    contributor_id = resolve_contributor(session, token_hash)
    n = crud.delete_contributor(session, contributor_id)
    session.commit()
    metrics.DELETED.inc(n)
    return Deleted(deleted_conversations=n)
