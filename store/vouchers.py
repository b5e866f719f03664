"""The vouchers' records: issued, activated (on a gas account), handed over, settled, spent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlmodel import Session, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from store.queries import chunks
from store.rows import put
from store.tables import (
    AccountActivation,
    CycleRecord,
    PurchaseLineRecord,
    RedemptionRecord,
    VoucherRecord,
)
from store.writer import single_writer

# SQLSTATE classes no retry can cure: 22 data exception (a value too long, a NUL in a text),
# 23 integrity constraint violation.
_INCURABLE_CLASSES = ("22", "23")


class PurchaseIdTaken(Exception):
    """The purchase_id is already another voucher's purchase."""


def incurable(error: DBAPIError) -> bool:
    """Whether the database refused the statement for its values (a retry would be refused the
    same), not for a passing trouble (a dropped connection, a timeout, a deadlock)."""
    if isinstance(error, IntegrityError | DataError):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _INCURABLE_CLASSES


@single_writer
def save_voucher(session: Session, *, voucher: VoucherRecord) -> None:
    """Insert or update an issued voucher's record."""
    put(session, voucher)
    session.commit()


async def voucher(session: AsyncSession, *, voucher_id: str) -> VoucherRecord | None:
    """The issued voucher's record, if there is one."""
    return await session.get(VoucherRecord, voucher_id)


async def voucher_ids(session: AsyncSession) -> list[str]:
    """Every issued voucher's ID."""
    return list((await session.exec(select(VoucherRecord.voucher_id))).all())


@single_writer
def mark_activated(
    session: Session,
    *,
    voucher_id: str,
    at: datetime,
    account_number: str | None,
    cycle: CycleRecord | None = None,
) -> None:
    """Note when (and on which gas account) a voucher was activated, and, when given, the
    cycle's row in its new state; unknown vouchers are left."""
    _activated(session, voucher_id, at, account_number)
    if cycle is not None:
        put(session, cycle)
    session.commit()


def _activated(session: Session, voucher_id: str, at: datetime, account_number: str | None) -> None:
    record = session.get(VoucherRecord, voucher_id)
    if record is not None:
        record.activated_at, record.account_number = at, account_number
        session.add(record)


@single_writer
def settle_voucher(session: Session, *, voucher_id: str, discount_kzt: int, volume_m3: str) -> None:
    """Keep a gas voucher's settled discount and volume; unknown vouchers are left."""
    record = session.get(VoucherRecord, voucher_id)
    if record is not None:
        record.discount_kzt, record.volume_m3 = discount_kzt, volume_m3
        session.add(record)
        session.commit()


async def account_holder(session: AsyncSession, *, month: str, account_number: str) -> str | None:
    """The voucher activated on the personal account this month, if any."""
    held = await session.get(AccountActivation, (month, account_number))
    return None if held is None else held.voucher_id


@single_writer
def claim_account(
    session: Session, *, activation: AccountActivation, cycle: CycleRecord | None = None
) -> bool:
    """Claim the account for its month and record the voucher activated on it (and, when given,
    the cycle's row in its new state), in one write; False, with nothing written, if another
    voucher holds the account. A retry of a claim that won wins again.

    The table's primary key (month, account) decides: of two vouchers claiming the same
    account at the same instant, exactly one insert succeeds.
    """
    session.add(activation)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        held = session.get(AccountActivation, (activation.month, activation.account_number))
        if held is None or held.voucher_id != activation.voucher_id:
            return False
    _activated(session, activation.voucher_id, activation.activated_at, activation.account_number)
    if cycle is not None:
        put(session, cycle)
    session.commit()
    return True


async def activations(
    session: AsyncSession, *, month: str, account_numbers: Sequence[str]
) -> dict[str, str]:
    """The cycle holding each account's activated voucher this month (unknown ones left out)."""
    found: dict[str, str] = {}
    for chunk in chunks(account_numbers, 500):
        rows = await session.exec(
            select(AccountActivation.account_number, AccountActivation.cycle_id)
            .where(AccountActivation.month == month)
            .where(col(AccountActivation.account_number).in_(chunk))
        )
        found.update(dict(rows.all()))
    return found


async def handover_page(
    session: AsyncSession, *, month: str, after: str, limit: int
) -> list[tuple[str, str]]:
    """The next (voucher, account) pairs of the month's hand-over, in voucher order after
    ``after``: claims whose voucher was activated on that very account."""
    rows = await session.exec(
        select(AccountActivation.voucher_id, AccountActivation.account_number)
        .join(VoucherRecord, col(VoucherRecord.voucher_id) == AccountActivation.voucher_id)
        .where(AccountActivation.month == month)
        .where(col(VoucherRecord.activated_at).is_not(None))
        .where(col(VoucherRecord.account_number) == AccountActivation.account_number)
        .where(col(AccountActivation.voucher_id) > after)
        .order_by(col(AccountActivation.voucher_id))
        .limit(limit)
    )
    return [(voucher_id, account) for voucher_id, account in rows.all()]


@single_writer
def mark_handed_over(session: Session, *, month: str, at: datetime) -> None:
    """Note the moment of the month's hand-over on every account activation of that month."""
    session.exec(
        update(AccountActivation)
        .where(col(AccountActivation.month) == month)
        .values(handed_over_at=at)
    )
    session.commit()


async def handed_over_cycles(session: AsyncSession, *, month: str) -> list[str]:
    """The cycles whose account activation went in the month's hand-over."""
    rows = await session.exec(
        select(AccountActivation.cycle_id)
        .where(AccountActivation.month == month)
        .where(col(AccountActivation.handed_over_at).is_not(None))
    )
    return list(rows.all())


@single_writer
def save_redemption(
    session: Session,
    *,
    redemption: RedemptionRecord,
    lines: Sequence[PurchaseLineRecord] = (),
) -> None:
    """Keep a food purchase and its lines, once: a retry of the same voucher's purchase leaves
    the rows written first.

    Raises:
        PurchaseIdTaken: the purchase_id is another voucher's purchase (nothing is written).
    """
    if _taken(session, redemption):
        return
    session.add(redemption)
    try:
        session.flush()  # the purchase before its lines (their foreign key)
        session.add_all(lines)
        session.commit()
    except IntegrityError:
        session.rollback()
        if not _taken(session, redemption):  # not a concurrent insert of the same ID
            raise


def _taken(session: Session, redemption: RedemptionRecord) -> bool:
    """Whether the purchase is recorded already (True), by this voucher; raise if by another."""
    kept = session.get(RedemptionRecord, redemption.purchase_id)
    if kept is None:
        return False
    if kept.voucher_id != redemption.voucher_id:
        raise PurchaseIdTaken(redemption.purchase_id)
    return True


async def purchase_lines(session: AsyncSession, *, purchase_id: str) -> list[PurchaseLineRecord]:
    """The purchase's lines, in the order the shop sent them."""
    rows = await session.exec(
        select(PurchaseLineRecord)
        .where(PurchaseLineRecord.purchase_id == purchase_id)
        .order_by(col(PurchaseLineRecord.line_no))
    )
    return list(rows.all())


async def redemption(session: AsyncSession, *, purchase_id: str) -> RedemptionRecord | None:
    """The purchase's record, if it was recorded."""
    return await session.get(RedemptionRecord, purchase_id)


async def purchase_count(session: AsyncSession, *, voucher_id: str) -> int:
    """How many purchases are recorded on the voucher."""
    counted = await session.exec(
        select(func.count())
        .select_from(RedemptionRecord)
        .where(RedemptionRecord.voucher_id == voucher_id)
    )
    return counted.one()
