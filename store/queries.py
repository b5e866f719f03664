"""Database functions of the API and the activities: keyword-only, each given its session.

Here the citizens' listings, cycles, consents and SMS; the vouchers' records are in
``store.vouchers`` and the figures counted over many rows in ``store.reports``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cycle import AWAITING_STATES, Citizen
from store.rows import put
from store.tables import (
    ConsentRecord,
    CycleRecord,
    InboundSmsRecord,
    ListingRecord,
    SmsRecord,
)
from store.writer import single_writer


@single_writer
def add_listings(
    session: Session,
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
            return _add_new_listings(
                session,
                program=program,
                month=month,
                citizens=citizens,
                listed_at=listed_at,
                digests=digests or {},
            )
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _add_new_listings(
    session: Session,
    *,
    program: str,
    month: str,
    citizens: Sequence[tuple[str, Citizen]],
    listed_at: datetime,
    digests: Mapping[str, str],
) -> int:
    refs = [ref for ref, _ in citizens]
    known: set[str] = set()
    for chunk in chunks(refs, 500):
        rows = session.exec(
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
    session.commit()
    return added


@single_writer
def note_corrections(
    session: Session,
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
    for chunk in chunks([ref for ref, _, _ in records], 500):
        found = session.exec(
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
    session.commit()
    return list(corrected.values())


@single_writer
def keep_digest(
    session: Session, *, program: str, month: str, citizen_ref: str, digest: str
) -> None:
    """Remember the record a started cycle has taken as SDU's latest for that citizen."""
    row = session.get(ListingRecord, (program, month, citizen_ref))
    if row is not None:
        row.fingerprint = digest
        session.add(row)
        session.commit()


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
    """The citizen's listing for the program-month, if they are listed."""
    return await session.get(ListingRecord, (program, month, citizen_ref))


@single_writer
def mark_started(session: Session, *, listings: Sequence[ListingRecord]) -> None:
    """Mark the listings' cycles started, and drop their records: the cycles hold the IIN now.

    The rows are changed by key (the listings belong to the caller's session, the write may
    run on the writer's); the caller's objects show the change too.
    """
    months: dict[tuple[str, str], list[str]] = {}
    for row in listings:
        months.setdefault((row.program, row.month), []).append(row.citizen_ref)
    for (program, month), refs in months.items():
        for chunk in chunks(refs, 500):
            session.exec(
                update(ListingRecord)
                .where(col(ListingRecord.program) == program, col(ListingRecord.month) == month)
                .where(col(ListingRecord.citizen_ref).in_(chunk))
                .values(started=True, citizen=None)
            )
    session.commit()
    for row in listings:
        set_committed_value(row, "started", True)
        set_committed_value(row, "citizen", None)


async def listed_months(session: AsyncSession) -> list[tuple[str, str]]:
    """Every (program, month) with a listing."""
    rows = await session.exec(select(ListingRecord.program, ListingRecord.month).distinct())
    return list(rows.all())


@single_writer
def save_cycle(session: Session, *, cycle: CycleRecord) -> None:
    """Insert or update a cycle's row (one per cycle, kept current by the cycle)."""
    put(session, cycle)
    session.commit()


async def cycle_ids(session: AsyncSession) -> list[str]:
    """Every cycle's ID."""
    return list((await session.exec(select(CycleRecord.cycle_id))).all())


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


@single_writer
def save_consent(session: Session, *, consent: ConsentRecord) -> None:
    """Keep a consent or refusal, one per inbound message (a retry writes the same row again)."""
    put(session, consent)
    session.commit()


async def latest_decision(
    session: AsyncSession, *, citizen_ref: str, program_version: str
) -> str | None:
    """The citizen's latest decision under a program version ("agree" | "refuse"), if any."""
    latest = await session.exec(
        select(ConsentRecord.decision)
        .where(ConsentRecord.citizen_ref == citizen_ref)
        .where(ConsentRecord.program_version == program_version)
        .order_by(col(ConsentRecord.received_at).desc())
        .limit(1)
    )
    return latest.first()


@single_writer
def withdraw_standing_consent(
    session: Session,
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
        session.exec(
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
    put(session, refusal)
    session.commit()
    return True


@single_writer
def log_sms(session: Session, *, sms: SmsRecord) -> None:
    """Keep an SMS the gateway accepted, one row per idempotency key."""
    put(session, sms)
    session.commit()


async def inbound(session: AsyncSession, *, message_id: str) -> InboundSmsRecord | None:
    """The inbound message's record, if it was received before."""
    return await session.get(InboundSmsRecord, message_id)


@single_writer
def keep_inbound(session: Session, *, message: InboundSmsRecord) -> bool:
    """Record an inbound message; False if another request recorded it first."""
    session.add(message)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


@single_writer
def record_reply_result(session: Session, *, message_id: str, result: str) -> None:
    """Keep what an inbound message meant. Two gateway nodes delivering it at once both get an
    answer, one of them ``duplicate``: that one never overwrites the cycle's real answer."""
    statement = (
        update(InboundSmsRecord)
        .where(col(InboundSmsRecord.message_id) == message_id)
        .values(result=result)
    )
    if result == "duplicate":
        statement = statement.where(col(InboundSmsRecord.result).is_(None))
    session.exec(statement)
    session.commit()


def chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    """``items`` in slices of at most ``size``: an ``IN`` list the drivers' limits allow."""
    return [items[i : i + size] for i in range(0, len(items), size)]


async def cycles_of_citizen(session: AsyncSession, *, citizen_ref: str) -> list[str]:
    """The workflow IDs of every cycle of the citizen with pseudonym ``citizen_ref``, by month."""
    rows = await session.exec(
        select(CycleRecord.cycle_id)
        .where(CycleRecord.citizen_ref == citizen_ref)
        .order_by(col(CycleRecord.month), col(CycleRecord.program))
    )
    return list(rows.all())
