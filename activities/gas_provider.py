"""The gas provider's billing system: accounts, the month's hand-over, settled discounts."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from temporalio import activity

from activities.http import raise_for_retry
from models.calls import AccountFound, HandoverMonth, Settlement
from models.voucher import Account, AccountEntry
from store import vouchers
from store.engine import Sessions

HANDOVER_CHUNK = 5_000


class GasProvider:
    """Activities calling the gas provider (``GAS_PROVIDER_URL``)."""

    def __init__(self, http: httpx.AsyncClient, sessions: Sessions) -> None:
        self._http = http
        self._sessions = sessions

    @activity.defn(name="gas.find_account")
    async def find_account(self, entry: AccountEntry) -> AccountFound:
        """The personal account's holder, address and region, or ``None`` if it does not exist."""
        response = await self._http.get(f"/v1/accounts/{quote(entry.account_number, safe='')}")
        if response.status_code == 404:
            return AccountFound(account=None)
        raise_for_retry(response, "gas provider")
        return AccountFound(account=Account.model_validate(response.json()))

    @activity.defn(name="gas.hand_over")
    async def hand_over(self, handover: HandoverMonth) -> int:
        """Send the month's activated vouchers to the provider; return how many.

        Page by page (keyset on the voucher ID) to the idempotent ``PUT /v1/handovers/{month}``,
        heartbeating after each: a retry sends the same pages again and the provider counts each
        voucher once. Only claims whose voucher was activated on that very account are sent.
        """
        sent, after = 0, ""
        while rows := await self._activated_page(handover.month, after):
            response = await self._http.put(
                f"/v1/handovers/{handover.month}",
                json={"vouchers": [{"voucher_id": v, "account_number": a} for v, a in rows]},
            )
            raise_for_retry(response, "gas provider")
            sent, after = sent + len(rows), rows[-1][0]
            activity.heartbeat(sent)
        async with self._sessions() as session:
            await vouchers.mark_handed_over(session, month=handover.month, at=handover.at)
        return sent

    async def _activated_page(self, month: str, after: str) -> list[tuple[str, str]]:
        async with self._sessions() as session:
            return await vouchers.handover_page(
                session, month=month, after=after, limit=HANDOVER_CHUNK
            )

    @activity.defn(name="gas.settle")
    async def settle(self, settlement: Settlement) -> None:
        """Tell the provider the voucher's discount (idempotent PUT) and keep it for reports."""
        response = await self._http.put(
            f"/v1/discounts/{settlement.voucher_id}",
            json={
                "month": settlement.month,
                "account_number": settlement.account_number,
                "volume_m3": str(settlement.volume_m3),
                "discount_kzt": settlement.discount_kzt,
            },
        )
        raise_for_retry(response, "gas provider")
        async with self._sessions() as session:
            await vouchers.settle_voucher(
                session,
                voucher_id=settlement.voucher_id,
                discount_kzt=settlement.discount_kzt,
                volume_m3=str(settlement.volume_m3),
            )
