"""Ops' lookup of a citizen: the IIN (in the body, never in a URL or a log) turned into the
pseudonym that the cycles' workflow IDs carry, and the IDs of that citizen's cycles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import ApiDeps, deps
from rules.pseudonyms import citizen_ref
from store.queries import cycles_of_citizen

router = APIRouter(tags=["ops"], dependencies=[Depends(require("ops"))])


class PseudonymAsked(BaseModel):
    iin: str = Field(pattern=r"^\d{12}$", description="The citizen's IIN: 12 digits.")


class CitizenCycles(BaseModel):
    pseudonym: str
    workflow_ids: list[str]
    # Ready for the Web UI's search box (and a saved view): the citizen's cycles; empty if none.
    query: str


@router.post("/v1/ops/pseudonyms")
async def pseudonym_of(
    asked: PseudonymAsked, api: Annotated[ApiDeps, Depends(deps)]
) -> CitizenCycles:
    """The pseudonym of an IIN and the workflow IDs of that citizen's cycles, every month."""
    ref = citizen_ref(api.settings.pseudonym_key, asked.iin)
    async with api.sessions() as session:
        ids = await cycles_of_citizen(session, citizen_ref=ref)
    listed = ", ".join(f"'{workflow_id}'" for workflow_id in ids)
    query = f"WorkflowId IN ({listed})" if ids else ""
    return CitizenCycles(pseudonym=ref, workflow_ids=ids, query=query)
