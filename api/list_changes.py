"""What SDU changes in a listing already made (SPEC.md §3 step 1): a withdrawal (the IIN in
the body, never in the URL, where proxies log it); a record re-sent with other details corrects
the cycle (called by the intake route)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import ApiDeps, deps, program_rules
from api.errors import ApiError
from api.openapi import refusals
from models.cycle import MONTH_PATTERN, Citizen, Correction, CycleInput, cycle_id
from models.programs import ProgramVersion
from rules.pseudonyms import citizen_ref
from store.queries import find_listing, keep_digest
from store.tables import ListingRecord

router = APIRouter(tags=["sdu"], dependencies=[Depends(require("sdu"))])


class WithdrawalRequest(BaseModel):
    """The citizen SDU withdraws from the month's list."""

    iin: str = Field(pattern=r"^[0-9]{12}$")


class WithdrawalAnswer(BaseModel):
    state: Literal["WITHDRAWN"] = "WITHDRAWN"


@router.post(
    "/v1/programs/{program}/months/{month}/withdrawals",
    responses=refusals(
        {
            404: ["unknown_program", "not_listed", "not_found"],
            409: ["list_closed", "already_activated", "already_final"],
        }
    ),
)
async def withdraw_recipient(
    program: str,
    month: Annotated[str, Path(pattern=MONTH_PATTERN)],
    body: WithdrawalRequest,
    api: Annotated[ApiDeps, Depends(deps)],
) -> WithdrawalAnswer:
    """Withdraw a listed citizen before activation: the cycle ends ``WITHDRAWN``.

    Asked again, it answers the same. A listed citizen whose cycle has not started yet gets it
    started here, then withdrawn: the intake's fan-out may be starting it at this very moment,
    and whichever start wins, the withdrawal reaches the one cycle there is.
    """
    program_rules(api, program, month)  # 404 unknown_program, 409 outside its period
    ref = citizen_ref(api.settings.pseudonym_key, body.iin)
    async with api.sessions() as session:
        listing = await find_listing(session, program=program, month=month, citizen_ref=ref)
    if listing is None:
        raise ApiError(404, "not_listed", "this citizen is not listed for that month")
    unstarted = _unstarted(api, listing)
    verdict = await api.cycles.withdraw(cycle_id(program, month, ref), unstarted=unstarted)
    if verdict == "already_activated":
        raise ApiError(409, "already_activated", "the citizen has already activated the voucher")
    if verdict == "already_final":
        raise ApiError(409, "already_final", "the cycle has already ended; nothing to withdraw")
    if verdict == "no_cycle":
        raise ApiError(404, "not_listed", "no cycle of this citizen is kept for that month")
    return WithdrawalAnswer()


async def correct_listed(
    api: ApiDeps,
    rules: ProgramVersion,
    month: str,
    corrections: list[tuple[ListingRecord, Citizen, str]],
) -> list[str]:
    """Hand each corrected record to its cycle; return the IINs whose correction came too
    late (the voucher is issued, or being issued: the cycle keeps the earlier record).

    A listing not started yet is started here with the corrected record (update-with-start),
    so that a fan-out starting it at this moment with the earlier one cannot win unseen: then
    the correction follows.
    """
    gate = asyncio.Semaphore(32)  # corrections are few; a large batch of them, not all at once

    async def correct(listing: ListingRecord, citizen: Citizen, digest: str) -> str | None:
        async with gate:
            cycle = api.cycles.cycle_input(
                rules.program,
                month,
                citizen=citizen,
                citizen_ref=listing.citizen_ref,
                listed_at=listing.listed_at,
            )
            correction = Correction(citizen=citizen, voucher_amount_kzt=cycle.voucher_amount_kzt)
            workflow_id = cycle_id(rules.program, month, listing.citizen_ref)
            unstarted = cycle if listing.citizen is not None else None
            if not await api.cycles.correct(workflow_id, correction, unstarted=unstarted):
                return citizen.iin
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


def _unstarted(api: ApiDeps, listing: ListingRecord) -> CycleInput | None:
    """The input of a listed citizen's cycle the intake has not started yet, or None."""
    if listing.citizen is None:
        return None  # the intake has started it: the cycle holds the IIN now
    return api.cycles.cycle_input(
        listing.program,
        listing.month,
        citizen=Citizen.model_validate_json(listing.citizen),
        citizen_ref=listing.citizen_ref,
        listed_at=listing.listed_at,
    )
