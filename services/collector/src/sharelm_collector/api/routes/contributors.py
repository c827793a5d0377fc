"""Contributors: a secret token per contributor, and the right to erase everything they gave."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, status

from sharelm_collector import crud
from sharelm_collector.api.deps import CallerDep, SessionDep, limit_ip, limit_signups, resolve_contributor
from sharelm_collector.core import metrics
from sharelm_collector.schemas import ContributorCreated, Deleted, problems

router = APIRouter(
    prefix="/v1/contributors", tags=["contributors"], dependencies=[Depends(limit_ip)],
    responses=problems(401, 429, 503),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContributorCreated,
    dependencies=[Depends(limit_signups)],
    operation_id="create_contributor",
    summary="Register a contributor; the token is shown once",
)
def create_contributor(session: SessionDep) -> ContributorCreated:
    contributor, token = crud.create_contributor(session)
    session.commit()
    return ContributorCreated(contributor_id=contributor.id, token=token)


@router.delete("/me", response_model=Deleted, operation_id="erase_me",
               summary="Erase me: my token and every conversation I gave")
def erase_me(request: Request, session: SessionDep, caller: CallerDep) -> Deleted:
    contributor_id = resolve_contributor(session, caller)
    n = crud.delete_contributor(session, contributor_id)
    session.commit()
    request.app.state.db.checkpoint()  # SQLite: the erased text leaves the WAL too (secure_delete: the file)
    metrics.DELETED.inc(n)
    return Deleted(deleted_conversations=n)
