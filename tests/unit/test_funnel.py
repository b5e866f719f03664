"""The month page's funnel counts a cycle at every stage its state has reached (issue 10)."""

from __future__ import annotations

from models.cycle import CycleState
from rules.funnel import OUTCOMES, STAGES, funnel


def test_a_settled_cycle_counts_at_every_stage() -> None:
    assert funnel({"SETTLED": 2}) == {
        **dict.fromkeys(STAGES, 2),
        **dict.fromkeys(OUTCOMES, 0),
    }


def test_the_stages_narrow_and_each_way_out_is_counted() -> None:
    counts = funnel(
        {
            "SCHEDULED": 5,
            "NO_PHONE": 1,
            "AWAITING_CONSENT": 4,
            "REFUSED": 2,
            "CONSENT_EXPIRED": 3,
            "VOUCHER_ISSUED": 6,
            "VOUCHER_EXPIRED": 1,
            "ACTIVATED": 7,
            "CLOSED": 2,
            "WITHDRAWN": 1,
        }
    )
    assert [counts[s] for s in STAGES] == [32, 22, 16, 16, 9, 2]
    assert counts["waiting"] == 9 and counts["refused"] == 2 and counts["no_phone"] == 1
    assert counts["consent_expired"] == 3 and counts["voucher_expired"] == 1
    assert counts["withdrawn"] == 1


def test_every_state_is_somewhere_and_an_unknown_one_is_only_listed() -> None:
    for state in CycleState:
        placed = [n for n, states in [*STAGES.items(), *OUTCOMES.items()] if state in states]
        assert placed != ["listed"], state
    assert funnel({"SOMETHING_NEW": 3}) == {**funnel({}), "listed": 3}
