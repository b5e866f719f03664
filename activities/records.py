"""The product's own database, as the cycles see it: their current state and their consents."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.exc import DBAPIError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.calls import (
    AccountClaim,
    ActivationAct,
    ConsentAct,
    ConsentQuery,
    CycleSnapshot,
    RedemptionAct,
)
from store import queries, vouchers
from store.engine import Sessions
from store.tables import (
    AccountActivation,
    ConsentRecord,
    CycleRecord,
    PurchaseLineRecord,
    RedemptionRecord,
)


class Records:
    """Activities reading and writing the product's database."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    @activity.defn(name="records.cycle")
    async def record_cycle(self, snapshot: CycleSnapshot) -> None:
        """Upsert the cycle's row; reports and reply routing read it."""
        async with self._sessions() as session:
            await queries.save_cycle(session, cycle=_row(snapshot))

    @activity.defn(name="records.consent")
    async def record_consent(self, act: ConsentAct) -> None:
        """Keep a consent or refusal as an auditable record (one per inbound message)."""
        # Kept in one offset: the latest decision is found by sorting on the time received.
        record = ConsentRecord(
            **act.model_dump(exclude={"received_at"}), received_at=act.received_at.astimezone(UTC)
        )
        async with self._sessions() as session:
            await queries.save_consent(session, consent=record)

    @activity.defn(name="records.consent_on_file")
    async def consent_on_file(self, query: ConsentQuery) -> bool:
        """Whether the citizen's latest decision under this program version is a consent."""
        async with self._sessions() as session:
            latest = await queries.latest_decision(
                session, citizen_ref=query.citizen_ref, program_version=query.program_version
            )
        return latest == "agree"

    @activity.defn(name="records.account_taken")
    async def account_taken(self, claim: AccountClaim) -> bool:
        """Whether another voucher is already activated on the account this month."""
        async with self._sessions() as session:
            held = await vouchers.account_holder(
                session, month=claim.month, account_number=claim.account_number
            )
        return held is not None and held != claim.voucher_id

    @activity.defn(name="records.claim_account")
    async def claim_account(self, claim: AccountClaim) -> bool:
        """Claim the account for this voucher and record the voucher activated on it, with the
        cycle's row (``claim.row``) in the same write; False (nothing recorded) if another
        voucher holds it.

        The table's primary key (month, account) makes the claim atomic across every cycle:
        of two vouchers confirming the same account at the same instant, exactly one wins; a
        retry of our own claim wins again.
        """
        activation = AccountActivation(
            month=claim.month,
            account_number=claim.account_number,
            voucher_id=claim.voucher_id,
            cycle_id=claim.cycle_id,
            activated_at=claim.at,
        )
        async with self._sessions() as session:
            return await vouchers.claim_account(
                session, activation=activation, cycle=_row(claim.row) if claim.row else None
            )

    @activity.defn(name="records.activation")
    async def record_activation(self, act: ActivationAct) -> None:
        """Note when (and on which account) a voucher was activated, for reports, with the
        cycle's row (``act.row``) in the same write."""
        async with self._sessions() as session:
            await vouchers.mark_activated(
                session,
                voucher_id=act.voucher_id,
                at=act.at,
                account_number=act.account_number,
                cycle=_row(act.row) if act.row else None,
            )

    @activity.defn(name="records.redemption")
    async def record_redemption(self, act: RedemptionAct) -> None:
        """Keep a food purchase drawn from a voucher (one row per purchase, with its lines) and
        the balance it left: the answer the purchase gets again once the cycle has closed.

        Raises:
            ApplicationError: non-retryable, ``purchase_id_conflict`` when the ID is another
                voucher's purchase, ``purchase_not_recordable`` when the database refuses the
                values themselves (no retry would cure either: the voucher must not wait on it).
        """
        redemption = RedemptionRecord(**act.model_dump(exclude={"lines"}))
        lines = [
            PurchaseLineRecord(
                purchase_id=act.purchase_id,
                line_no=number,
                program=act.program,
                month=act.month,
                code=line.code,
                qty_thousandths=int(line.qty * 1000),
                unit_price_kzt=line.unit_price_kzt,
                discount_kzt=line.discount_kzt,
            )
            for number, line in enumerate(act.lines)
        ]
        try:
            async with self._sessions() as session:
                await vouchers.save_redemption(session, redemption=redemption, lines=lines)
        except vouchers.PurchaseIdTaken:
            raise ApplicationError(
                "the purchase_id is another voucher's purchase",
                type="purchase_id_conflict",
                non_retryable=True,
            ) from None
        except DBAPIError as refused:
            if not vouchers.incurable(refused):
                raise  # a passing trouble (the database restarting): the retry policy's
            # The database's message carries the statement's parameters: not repeated here.
            raise ApplicationError(
                f"the database refused the purchase's values ({type(refused.orig).__name__})",
                type="purchase_not_recordable",
                non_retryable=True,
            ) from None


def _row(snapshot: CycleSnapshot) -> CycleRecord:
    """The cycle's row as the cycle sees it now."""
    return CycleRecord(**snapshot.model_dump(exclude={"at"}), updated_at=snapshot.at)
