"""The custom search attributes every citizen cycle carries (CONTRACTS.md §4), for the Web UI."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

PROGRAM = SearchAttributeKey.for_keyword("Program")
CYCLE_MONTH = SearchAttributeKey.for_keyword("CycleMonth")
REGION = SearchAttributeKey.for_keyword("Region")
CYCLE_STATE = SearchAttributeKey.for_keyword("CycleState")
# Why ops should look at a cycle (a provider's discount that differs from the formula, no
# consumption reported after hand-over); absent when nothing is wrong.
ATTENTION = SearchAttributeKey.for_keyword("Attention")

ALL = (PROGRAM, CYCLE_MONTH, REGION, CYCLE_STATE, ATTENTION)


def cycle_attributes(program: str, month: str, region: str, state: str) -> TypedSearchAttributes:
    """The search attributes of a cycle; none of them carries personal data."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(PROGRAM, program),
            SearchAttributePair(CYCLE_MONTH, month),
            SearchAttributePair(REGION, region),
            SearchAttributePair(CYCLE_STATE, state),
        ]
    )
