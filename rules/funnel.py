"""A program-month's funnel (listed → texted → consented → issued → activated → used/settled)
from the cycles' current states: a cycle counts at every stage its state has reached."""

from __future__ import annotations

from collections.abc import Mapping

from models.cycle import CycleState as S

# Each stage, with the states of the cycles that have reached it (or gone beyond it).
_VOUCHER = {S.VOUCHER_ISSUED, S.ACCOUNT_PENDING_CONFIRMATION, S.VOUCHER_EXPIRED}
_ACTIVE = {S.ACTIVATED, S.HANDED_OVER, S.SETTLED, S.CLOSED}
STAGES: dict[str, frozenset[S]] = {
    "listed": frozenset(S),
    # A food citizen with a consent on file is issued without being texted this month.
    "texted": frozenset({S.AWAITING_CONSENT, S.REMINDED, S.REFUSED, *_VOUCHER, *_ACTIVE}),
    "consented": frozenset({*_VOUCHER, *_ACTIVE}),
    "issued": frozenset({*_VOUCHER, *_ACTIVE}),
    "activated": frozenset(_ACTIVE),
    "used_settled": frozenset({S.SETTLED, S.CLOSED}),
}
# Where the others left the funnel, or are still waiting.
OUTCOMES: dict[str, frozenset[S]] = {
    "waiting": frozenset({S.SCHEDULED, S.AWAITING_CONSENT, S.REMINDED}),
    "refused": frozenset({S.REFUSED}),
    "no_phone": frozenset({S.NO_PHONE}),
    "consent_expired": frozenset({S.CONSENT_EXPIRED}),
    "voucher_expired": frozenset({S.VOUCHER_EXPIRED}),
    "withdrawn": frozenset({S.WITHDRAWN}),
}


def funnel(by_state: Mapping[str, int]) -> dict[str, int]:
    """How many cycles reached each stage, then each way out, from counts by state name.

    A state the product does not know (a report of a newer version) counts as listed only.
    """
    counts = {name: 0 for name in [*STAGES, *OUTCOMES]}
    for state, count in by_state.items():
        for name, states in [*STAGES.items(), *OUTCOMES.items()]:
            if name == "listed" or state in states:
                counts[name] += count
    return counts
