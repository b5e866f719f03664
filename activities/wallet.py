"""The Social Wallet: vouchers appear in it, and it is told what becomes of them."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio import activity

from activities.http import raise_for_retry
from models.calls import VoucherIssue, VoucherNotice
from store import vouchers
from store.engine import Sessions
from store.tables import VoucherRecord


class Wallet:
    """Activities calling the Social Wallet (``WALLET_URL``)."""

    def __init__(self, http: httpx.AsyncClient, sessions: Sessions) -> None:
        self._http = http
        self._sessions = sessions

    @activity.defn(name="wallet.issue_voucher")
    async def issue_voucher(self, voucher: VoucherIssue) -> None:
        """Create the voucher in the wallet (an idempotent PUT) and keep its record."""
        body: dict[str, Any] = {
            "program": voucher.program,
            "month": voucher.month,
            "iin": voucher.iin,
            "valid_until": voucher.valid_until.isoformat(),
        }
        if voucher.amount_kzt is not None:
            body["amount_kzt"] = voucher.amount_kzt
        if voucher.members is not None:
            body["members"] = voucher.members
        response = await self._http.put(f"/v1/vouchers/{voucher.voucher_id}", json=body)
        raise_for_retry(response, "wallet")
        record = VoucherRecord(
            voucher_id=voucher.voucher_id,
            cycle_id=voucher.cycle_id,
            program=voucher.program,
            month=voucher.month,
            region=voucher.region,
            amount_kzt=voucher.amount_kzt,
            valid_until=voucher.valid_until,
            issued_at=voucher.issued_at,
        )
        async with self._sessions() as session:
            await vouchers.save_voucher(session, voucher=record)

    @activity.defn(name="wallet.notify")
    async def notify(self, notice: VoucherNotice) -> None:
        """Tell the wallet what became of a voucher (expired, discount, closed)."""
        response = await self._http.post(
            f"/v1/vouchers/{notice.voucher_id}/events",
            json={"type": notice.type, **notice.detail},
            # One event of a kind per voucher, however often the activity is retried.
            headers={"Idempotency-Key": f"{notice.voucher_id}:{notice.type}"},
        )
        raise_for_retry(response, "wallet")
