"""Database functions of the API and the activities: keyword-only, each given its session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cycle import AWAITING_STATES, Citizen
from store.tables import (
    AccountActivation,
    ConsentRecord,
    CycleRecord,
    InboundSmsRecord,
    ListingRecord,
    RedemptionRecord,
    SmsRecord,
    VoucherRecord,
)


async def add_listings(
    session: AsyncSession,
    *,
    program: str,
    month: str,
    citizens: Sequence[tuple[str, Citizen]],
    listed_at: datetime,
    digests: Mapping[str, str] | None = None,
) -> int:
    """Add the (citizen_ref, citizen) pairs not yet listed; return how many were new.

    ``digests`` (citizen_ref → ``record_digest``) are kept to tell a later correction.

    Two requests listing the same citizen at once: the loser's insert fails on the primary key,
    and its second look counts that citizen as already listed.
    """
    for attempt in range(3):
        try:
            return await _add_new_listings(
                session,
                program=program,
                month=month,
                citizens=citizens,
                listed_at=listed_at,
                digests=digests or {},
            )
        except IntegrityError:
            await session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _add_new_listings(
    session: AsyncSession,
    *,
    program: str,
    month: str,
    citizens: Sequence[tuple[str, Citizen]],
    listed_at: datetime,
    digests: Mapping[str, str],
) -> int:
    refs = [ref for ref, _ in citizens]
    known: set[str] = set()
    for chunk in _chunks(refs, 500):
        rows = await session.exec(
            select(ListingRecord.citizen_ref)
            .where(ListingRecord.program == program, ListingRecord.month == month)
            .where(col(ListingRecord.citizen_ref).in_(chunk))
        )
        known.update(rows.all())
    added = 0
    for ref, citizen in citizens:
        if ref in known:
            continue
        known.add(ref)
        session.add(
            ListingRecord(
                program=program,
                month=month,
                citizen_ref=ref,
                region=citizen.region,
                citizen=citizen.model_dump_json(),
                listed_at=listed_at,
                fingerprint=digests.get(ref),
            )
        )
        added += 1
    await session.commit()
    return added


async def note_corrections(
    session: AsyncSession,
    *,
    program: str,
    month: str,
    records: Sequence[tuple[str, Citizen, str]],
) -> list[tuple[ListingRecord, Citizen, str]]:
    """The re-sent (citizen_ref, citizen, digest) whose record differs from the one SDU sent
    before: its corrections, with the listing and the new digest.

    A listing not started yet takes the corrected record and its digest at once (the fan-out
    starts it corrected). A started one keeps its digest until its cycle has taken the
    correction (``keep_digest``): one refused, or lost with a failed call, is a correction
    again when re-sent. A row without a digest (listed before digests were kept) takes this
    one without counting it as a correction.
    """
    rows: dict[str, ListingRecord] = {}
    for chunk in _chunks([ref for ref, _, _ in records], 500):
        found = await session.exec(
            select(ListingRecord)
            .where(ListingRecord.program == program, ListingRecord.month == month)
            .where(col(ListingRecord.citizen_ref).in_(chunk))
        )
        rows.update((row.citizen_ref, row) for row in found.all())
    corrected: dict[str, tuple[ListingRecord, Citizen, str]] = {}
    for ref, citizen, digest in records:
        row = rows.get(ref)
        if row is None or row.fingerprint == digest:
            continue
        if row.fingerprint is not None:
            corrected[ref] = (row, citizen, digest)
        if row.fingerprint is None or row.citizen is not None:
            row.fingerprint = digest
        if row.citizen is not None:  # not started: the fan-out starts it corrected
            row.citizen, row.region = citizen.model_dump_json(), citizen.region
        session.add(row)
    await session.commit()
    return list(corrected.values())


async def keep_digest(
    session: AsyncSession, *, program: str, month: str, citizen_ref: str, digest: str
) -> None:
    """Remember the record a started cycle has taken as SDU's latest for that citizen."""
    row = await session.get(ListingRecord, (program, month, citizen_ref))
    if row is not None:
        row.fingerprint = digest
        session.add(row)
        await session.commit()


async def pending_listings(
    session: AsyncSession, *, program: str, month: str, limit: int
) -> Sequence[ListingRecord]:
    """Listed citizens whose cycle has not been started yet."""
    rows = await session.exec(
        select(ListingRecord)
        .where(ListingRecord.program == program, ListingRecord.month == month)
        .where(col(ListingRecord.started).is_(False))
        .limit(limit)
    )
    return rows.all()


async def find_listing(
    session: AsyncSession, *, program: str, month: str, citizen_ref: str
) -> ListingRecord | None:
    return await session.get(ListingRecord, (program, month, citizen_ref))


async def reply_route(
    session: AsyncSession, *, phone_ref: str, short_number: str
) -> CycleRecord | None:
    """The cycle a reply from ``phone_ref`` to ``short_number`` belongs to.

    A cycle awaiting consent wins; otherwise the newest month's cycle (which answers ``late``).
    """
    rows = await session.exec(
        select(CycleRecord)
        .where(CycleRecord.phone_ref == phone_ref, CycleRecord.short_number == short_number)
        .order_by(col(CycleRecord.month).desc())
        .limit(12)
    )
    cycles = list(rows.all())
    awaiting = [c for c in cycles if c.state in AWAITING_STATES]
    candidates = awaiting or cycles
    return candidates[0] if candidates else None


async def withdraw_standing_consent(
    session: AsyncSession,
    *,
    citizen_ref: str,
    program: str,
    cycle_id: str,
    month: str,
    message_id: str,
    received_at: datetime,
) -> bool:
    """Record a refusal against the citizen's latest program-period consent, if it is one;
    return whether there was a consent to withdraw. The refusal names the same person and
    program version, so the next cycle under that version finds it and asks again."""
    latest = (
        await session.exec(
            select(ConsentRecord)
            .where(ConsentRecord.citizen_ref == citizen_ref, ConsentRecord.program == program)
            .order_by(col(ConsentRecord.received_at).desc())
            .limit(1)
        )
    ).first()
    if latest is not None and latest.message_id == message_id:
        return True  # the gateway delivering again a refusal already recorded
    if latest is None or latest.decision != "agree":
        return False
    refusal = ConsentRecord(
        **latest.model_dump(include={"citizen_ref", "iin", "program", "program_version"}),
        cycle_id=cycle_id,
        month=month,
        message_id=message_id,
        decision="refuse",
        received_at=received_at,
        recorded_at=datetime.now(UTC),
    )
    await session.merge(refusal)
    await session.commit()
    return True


async def activations(
    session: AsyncSession, *, month: str, account_numbers: Sequence[str]
) -> dict[str, str]:
    """The cycle holding each account's activated voucher this month (unknown ones left out)."""
    found: dict[str, str] = {}
    for chunk in _chunks(account_numbers, 500):
        rows = await session.exec(
            select(AccountActivation.account_number, AccountActivation.cycle_id)
            .where(AccountActivation.month == month)
            .where(col(AccountActivation.account_number).in_(chunk))
        )
        found.update(dict(rows.all()))
    return found


async def voucher(session: AsyncSession, *, voucher_id: str) -> VoucherRecord | None:
    return await session.get(VoucherRecord, voucher_id)


async def redemption(session: AsyncSession, *, purchase_id: str) -> RedemptionRecord | None:
    return await session.get(RedemptionRecord, purchase_id)


async def inbound(session: AsyncSession, *, message_id: str) -> InboundSmsRecord | None:
    return await session.get(InboundSmsRecord, message_id)


async def record_reply_result(session: AsyncSession, *, message_id: str, result: str) -> None:
    """Keep what an inbound message meant. Two gateway nodes delivering it at once both get an
    answer, one of them ``duplicate``: that one never overwrites the cycle's real answer."""
    statement = (
        update(InboundSmsRecord)
        .where(col(InboundSmsRecord.message_id) == message_id)
        .values(result=result)
    )
    if result == "duplicate":
        statement = statement.where(col(InboundSmsRecord.result).is_(None))
    await session.exec(statement)
    await session.commit()


async def month_figures(
    session: AsyncSession, *, program: str, month: str
) -> tuple[dict[str, dict[str, int]], int]:
    """Cycles by region and state, and the number of SMS sent, for a program-month."""
    rows = await session.exec(
        select(CycleRecord.region, CycleRecord.state, func.count())
        .where(CycleRecord.program == program, CycleRecord.month == month)
        .group_by(CycleRecord.region, CycleRecord.state)
    )
    by_region: dict[str, dict[str, int]] = {}
    for region, state, count in rows.all():
        by_region.setdefault(region, {})[state] = count
    sms = await session.exec(
        select(func.count())
        .select_from(SmsRecord)
        .where(SmsRecord.program == program, SmsRecord.month == month)
    )
    return by_region, sms.one()


async def money_totals(session: AsyncSession, *, program: str, month: str) -> tuple[int, int]:
    """Settled gas discounts and food purchases drawn from vouchers, in tenge."""
    discounts = await session.exec(
        select(func.coalesce(func.sum(VoucherRecord.discount_kzt), 0)).where(
            VoucherRecord.program == program, VoucherRecord.month == month
        )
    )
    redeemed = await session.exec(
        select(func.coalesce(func.sum(RedemptionRecord.discount_kzt), 0)).where(
            RedemptionRecord.program == program, RedemptionRecord.month == month
        )
    )
    return int(discounts.one() or 0), int(redeemed.one() or 0)


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
