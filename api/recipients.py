"""SDU's list intake: ``POST`` a batch of recipients (re-sends and corrections too), ``DELETE``
one (a withdrawal)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy

from activities.cycles import correct_cycle, start_cycle, withdraw_cycle
from api.auth import require
from api.deps import ApiDeps, deps
from api.errors import ApiError
from models.cycle import MONTH_PATTERN, Citizen, Correction, CycleInput, cycle_id
from models.programs import PROGRAMS, ProgramVersion
from models.records import ListingRecord
from models.store import add_listings, find_listing, keep_digest, note_corrections
from rules import calendar
from rules.eligibility import listing_problem
from rules.listing import prepare_cycle
from rules.pseudonyms import citizen_ref, record_digest
from workflows.month_intake import Admission, Admitted, IntakeInput, MonthIntake

router = APIRouter(tags=["sdu"], dependencies=[Depends(require("sdu"))])


class RecipientList(BaseModel):
    recipients: list[dict[str, Any]] = Field(max_length=10_000)


class Rejection(BaseModel):
    iin: str
    reason: str


class ListingAnswer(BaseModel):
    accepted: int
    already_listed: int  # re-sent, corrections included
    rejected: list[Rejection]  # a correction that came too late too (CONTRACTS.md's shape)


class WithdrawalAnswer(BaseModel):
    state: Literal["WITHDRAWN"] = "WITHDRAWN"


@router.post("/v1/programs/{program}/months/{month}/recipients", status_code=202)
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
    rules = _rules(api, program, month)
    key = api.settings.pseudonym_key
    citizens, rejected = _screen(rules, body.recipients, key)
    admitted = await _admit(api, rules, month, len(citizens))
    digests = {ref: record_digest(key, citizen.model_dump_json()) for ref, citizen in citizens}
    async with api.sessions() as session:
        added = await add_listings(
            session,
            program=program,
            month=month,
            citizens=citizens,
            listed_at=admitted.listed_at,
            digests=digests,
        )
        corrections = await note_corrections(
            session,
            program=program,
            month=month,
            records=[(ref, citizen, digests[ref]) for ref, citizen in citizens],
        )
    if citizens:  # also on a re-send: a signal lost after the last write is sent again
        await api.client.get_workflow_handle(_intake_id(program, month)).signal(MonthIntake.listed)
    refused = await _correct(api, rules, month, corrections)
    return ListingAnswer(
        accepted=added, already_listed=len(citizens) - added, rejected=[*rejected, *refused]
    )


@router.delete("/v1/programs/{program}/months/{month}/recipients/{iin}")
async def withdraw_recipient(
    program: str,
    month: Annotated[str, Path(pattern=MONTH_PATTERN)],
    iin: str,
    api: Annotated[ApiDeps, Depends(deps)],
) -> WithdrawalAnswer:
    """Withdraw a listed citizen before activation: the cycle ends ``WITHDRAWN``.

    Asked again, it answers the same. A listed citizen whose cycle has not started yet gets it
    started here, then withdrawn: the intake's fan-out may be starting it at this very moment,
    and whichever start wins, the withdrawal reaches the one cycle there is.
    """
    rules = _rules(api, program, month)
    ref = citizen_ref(api.settings.pseudonym_key, iin)
    async with api.sessions() as session:
        listing = await find_listing(session, program=program, month=month, citizen_ref=ref)
    if listing is None:
        raise ApiError(404, "not_listed", "this citizen is not listed for that month")
    if listing.citizen is not None:
        await _start_listed(api, rules, month, listing)
    verdict = await withdraw_cycle(api.client, workflow_id=cycle_id(program, month, ref))
    if verdict == "already_activated":
        raise ApiError(409, "already_activated", "the citizen has already activated the voucher")
    if verdict == "already_final":
        raise ApiError(409, "already_final", "the cycle has already ended; nothing to withdraw")
    if verdict == "no_cycle":
        raise ApiError(404, "not_listed", "no cycle of this citizen is kept for that month")
    return WithdrawalAnswer()


async def _start_listed(
    api: ApiDeps, rules: ProgramVersion, month: str, listing: ListingRecord
) -> bool:
    """Start a listed citizen's cycle the intake has not started yet; False if it has."""
    citizen = Citizen.model_validate_json(listing.citizen or "{}")
    cycle = _cycle_input(api, rules, month, listing, citizen)
    return await start_cycle(api.client, task_queue=api.settings.task_queue, cycle=cycle)


async def _correct(
    api: ApiDeps,
    rules: ProgramVersion,
    month: str,
    corrections: list[tuple[ListingRecord, Citizen, str]],
) -> list[Rejection]:
    """Hand each corrected record to its cycle; return the corrections refused as too late.

    A listing not started yet is started here with the corrected record, so that a fan-out
    starting it at this moment with the earlier one cannot win unseen: then the update follows.
    """
    gate = asyncio.Semaphore(32)  # corrections are few; a large batch of them, not all at once

    async def correct(listing: ListingRecord, citizen: Citizen, digest: str) -> Rejection | None:
        async with gate:
            cycle = _cycle_input(api, rules, month, listing, citizen)
            if listing.citizen is not None and await start_cycle(
                api.client, task_queue=api.settings.task_queue, cycle=cycle
            ):
                return None
            correction = Correction(citizen=citizen, voucher_amount_kzt=cycle.voucher_amount_kzt)
            workflow_id = cycle_id(rules.program, month, listing.citizen_ref)
            if not await correct_cycle(api.client, workflow_id=workflow_id, correction=correction):
                return Rejection(iin=citizen.iin, reason="too_late_to_correct")
            async with api.sessions() as session:
                await keep_digest(
                    session,
                    program=rules.program,
                    month=month,
                    citizen_ref=listing.citizen_ref,
                    digest=digest,
                )
            return None

    answers = await asyncio.gather(*(correct(*correction) for correction in corrections))
    return [refused for refused in answers if refused is not None]


def _cycle_input(
    api: ApiDeps, rules: ProgramVersion, month: str, listing: ListingRecord, citizen: Citizen
) -> CycleInput:
    return prepare_cycle(
        rules,
        month=month,
        citizen=citizen,
        citizen_ref=listing.citizen_ref,
        mrp_kzt=api.reference.mrp(int(month[:4])),
        listed_at=listing.listed_at,
        send_spread=timedelta(minutes=api.settings.send_spread_minutes),
    )


def _rules(api: ApiDeps, program: str, month: str) -> ProgramVersion:
    if program not in PROGRAMS:
        raise ApiError(404, "unknown_program", f"no program {program!r}; known: gas, food")
    try:
        calendar.month_end(month)
        rules = api.programs.for_month(program, month)
    except ValueError:
        rules = None
    if rules is None:
        raise ApiError(409, "list_closed", f"no {program} program version covers {month}")
    return rules


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
    handle = await api.client.start_workflow(
        MonthIntake.run,
        IntakeInput(program=rules.program, month=month, rules=rules),
        id=_intake_id(rules.program, month),
        task_queue=api.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"{rules.program} list intake {month}",
    )
    try:
        return await handle.execute_update(MonthIntake.admit, Admission(count=count))
    except WorkflowUpdateFailedError as failed:
        raise ApiError(409, "list_closed", str(failed.cause)) from failed


def _intake_id(program: str, month: str) -> str:
    return f"intake-{program}-{month}"
