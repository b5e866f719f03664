"""What a cycle is given when its citizen is listed: its rules, by reference, and its voucher."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from models.cycle import Citizen, CycleInput
from models.programs import ProgramNotConfigured, ProgramVersion
from models.rulebook import rules_ref
from rules.voucher import food_voucher_amount


def prepare_cycle(
    rules: ProgramVersion,
    *,
    month: str,
    citizen: Citizen,
    citizen_ref: str,
    mrp_kzt: int | None,
    listed_at: datetime | None = None,
    send_spread: timedelta = timedelta(0),
) -> CycleInput:
    """The input of the cycle of ``citizen`` for ``month`` under ``rules``.

    The voucher's value is fixed here, at listing, from the MRP of the month's year, so a later
    change of the reference data does not change a cycle already running.

    Raises:
        ProgramNotConfigured: a placeholder of the version's texts has no value (SPEC.md §7).
        ValueError: a food voucher without the MRP of its year.
    """
    if not rules.configured:
        raise ProgramNotConfigured(
            f"{rules.version} cannot text: {', '.join(rules.unset_placeholders())} not set"
        )
    amount = None
    if rules.voucher.kind == "fixed_mrp":
        if mrp_kzt is None:
            raise ValueError(f"{rules.version}: no MRP for {month}: the voucher has no value")
        amount = food_voucher_amount(
            rules.voucher, mrp_kzt=mrp_kzt, family_size=citizen.family_size, region=citizen.region
        )
    return CycleInput(
        program=rules.program,
        month=month,
        citizen=citizen,
        citizen_ref=citizen_ref,
        rules_ref=rules_ref(rules),
        voucher_amount_kzt=amount,
        listed_at=listed_at,
        send_offset_s=send_offset(citizen_ref, send_spread),
    )


def send_offset(citizen_ref: str, spread: timedelta) -> int:
    """Seconds after the send moment that this citizen is texted, spread evenly over
    ``spread`` by their pseudonym: a million timers do not fire in the same second at 09:00,
    and the same citizen always gets the same moment."""
    seconds = int(spread.total_seconds())
    if seconds <= 0:
        return 0
    digest = hashlib.sha256(citizen_ref.encode()).digest()
    return int.from_bytes(digest[:8], "big") % seconds
