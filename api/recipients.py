"""SDU's list intake: ``POST`` a batch of recipients (re-sends and corrections too)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field, ValidationError

from api.auth import require
from api.deps import ApiDeps, deps, listing_rules
from api.errors import ApiError
from api.list_changes import correct_listed
from api.openapi import refusals
from client.cycles import CycleRefused
from models.cycle import MONTH_PATTERN, Citizen
from models.programs import ProgramVersion
from rules.eligibility import listing_problem
from rules.pseudonyms import citizen_ref, record_digest
from store.queries import add_listings, note_corrections
from workflows.month_intake import Admitted

router = APIRouter(tags=["sdu"], dependencies=[Depends(require("sdu"))])
# Citizens written at a time: a list of 10,000 is ten short writes, so that the replies and
# wallet requests writing beside it (through the process's one SQLite writer, or the PostgreSQL
# pool) wait for one of them, not for all. A request that fails half-way has listed its first
# parts; SDU's re-send lists the rest (the first parts count as already listed).
WRITTEN_AT_ONCE = 1_000


class RecipientList(BaseModel):
    recipients: list[dict[str, Any]] = Field(max_length=10_000)


class Rejection(BaseModel):
    iin: str
    reason: str


class ListingAnswer(BaseModel):
    accepted: int
    already_listed: int  # re-sent, corrections included
    rejected: list[Rejection]  # a correction that came too late too (CONTRACTS.md's shape)


@router.post(
    "/v1/programs/{program}/months/{month}/recipients",
    status_code=202,
    responses=refusals(
        {
            404: ["unknown_program"],
            409: ["list_closed", "program_not_configured", "reference_data_missing"],
        }
    ),
)
async def list_recipients(
    program: str,
    month: Annotated[str, Path(pattern=MONTH_PATTERN)],
    body: RecipientList,
    api: Annotated[ApiDeps, Depends(deps)],
) -> ListingAnswer:
    """List a batch of potential recipients; invalid records are refused one by one.

    A citizen re-sent with other details (until the cut-off) is SDU's correction: the cycle
    goes on with the new record, unless its voucher is already issued (then it is refused
    with the reason ``too_late_to_correct`` and the cycle keeps the earlier record).
    """
    rules = listing_rules(api, program, month)
    key = api.settings.pseudonym_key
    citizens, rejected = _screen(rules, body.recipients, key)
    admitted = await _admit(api, rules, month, len(citizens))
    added, corrections = 0, []
    for start in range(0, len(citizens), WRITTEN_AT_ONCE):
        part = citizens[start : start + WRITTEN_AT_ONCE]
        digests = {ref: record_digest(key, citizen.model_dump_json()) for ref, citizen in part}
        async with api.sessions() as session:
            added += await add_listings(
                session,
                program=program,
                month=month,
                citizens=part,
                listed_at=admitted.listed_at,
                digests=digests,
            )
            corrections += await note_corrections(
                session,
                program=program,
                month=month,
                records=[(ref, citizen, digests[ref]) for ref, citizen in part],
            )
    if citizens:  # also on a re-send: a signal lost after the last write is sent again
        await api.cycles.tell_listed(program, month)
    too_late = await correct_listed(api, rules, month, corrections)
    refused = [Rejection(iin=iin, reason="too_late_to_correct") for iin in too_late]
    return ListingAnswer(
        accepted=added, already_listed=len(citizens) - added, rejected=[*rejected, *refused]
    )


def _screen(
    rules: ProgramVersion, records: list[dict[str, Any]], key: str
) -> tuple[list[tuple[str, Citizen]], list[Rejection]]:
    citizens: list[tuple[str, Citizen]] = []
    rejected: list[Rejection] = []
    for record in records:
        iin = str(record.get("iin", "")).encode("utf-8", "backslashreplace").decode()
        try:
            citizen = Citizen.model_validate(record)
        except ValidationError as invalid:
            rejected.append(Rejection(iin=iin, reason=_reason(invalid)))
            continue
        problem = listing_problem(
            rules,
            iin=citizen.iin,
            region=citizen.region,
            locality=citizen.locality,
            family_size=citizen.family_size,
            assistance=list(citizen.assistance),
        )
        if problem:
            rejected.append(Rejection(iin=iin, reason=problem))
        else:
            citizens.append((citizen_ref(key, citizen.iin), citizen))
    return citizens, rejected


def _reason(invalid: ValidationError) -> str:
    field = str(invalid.errors()[0]["loc"][0]) if invalid.errors() else ""
    return {
        "iin": "invalid_iin",
        "family_size": "invalid_family_size",
        "lang": "invalid_lang",
        "assistance": "not_eligible_assistance",
        "region": "unknown_region",
    }.get(field, "malformed_record")


async def _admit(api: ApiDeps, rules: ProgramVersion, month: str, count: int) -> Admitted:
    """Ask the month's intake workflow, by its clock, whether the list is still open."""
    try:
        return await api.cycles.admit(rules, month, count)
    except CycleRefused as closed:
        raise ApiError(409, "list_closed", closed.detail) from closed
