"""Refusing listed people (rules/eligibility.py): one test per reason code."""

from __future__ import annotations

from typing import Any

import pytest

from models.programs import ProgramVersion, load_programs
from rules.eligibility import listing_problem

IIN = "880315300123"  # checked by hand in test_iin.py


def _version(program: str, month: str) -> ProgramVersion:
    version = load_programs().for_month(program, month)
    assert version is not None
    return version


GAS = _version("gas", "2025-09")
FOOD = _version("food", "2026-02")
FOOD_AKKOL_ONLY = _version("food", "2025-07")


def _person(**changes: Any) -> dict[str, Any]:
    person: dict[str, Any] = {
        "iin": IIN,
        "region": "AKM",
        "locality": "KOKSHETAU",
        "family_size": 3,
        "assistance": ["TSA"],
    }
    return person | changes


@pytest.mark.parametrize(
    ("rules", "changes"),
    [
        (GAS, {}),
        (GAS, {"region": "AST", "locality": None, "assistance": ["HOUSING"]}),
        (GAS, {"locality": "SOMEWHERE"}),  # gas territories are whole regions
        (FOOD, {}),
        (FOOD, {"region": "PAV", "locality": "PAVLODAR"}),
        (FOOD, {"family_size": 1, "assistance": ["HOUSING", "TSA"]}),
        (FOOD, {"family_size": 30}),
        (FOOD_AKKOL_ONLY, {"locality": "AKKOL"}),
    ],
)
def test_eligible_person_has_no_problem(rules: ProgramVersion, changes: dict[str, Any]) -> None:
    """A valid, covered, eligible person is accepted."""
    assert listing_problem(rules, **_person(**changes)) is None


@pytest.mark.parametrize(
    ("rules", "changes", "reason"),
    [
        (GAS, {"iin": "880315300124"}, "invalid_iin"),
        (FOOD, {"iin": "not-an-iin", "region": "XXX"}, "invalid_iin"),
        (GAS, {"region": "XXX"}, "unknown_region"),
        (GAS, {"region": "akm"}, "unknown_region"),
        (GAS, {"region": "PAV"}, "region_not_in_program"),
        (FOOD, {"region": "AST", "locality": None}, "region_not_in_program"),
        (FOOD, {"locality": None}, "locality_required"),
        (FOOD, {"locality": ""}, "locality_required"),
        (FOOD, {"locality": "ASTANA"}, "locality_not_in_program"),
        (FOOD, {"locality": "PAVLODAR"}, "locality_not_in_program"),  # a town of another region
        (FOOD_AKKOL_ONLY, {}, "locality_not_in_program"),  # Kokshetau joined only in seed 004
        (FOOD, {"family_size": 0}, "invalid_family_size"),
        (FOOD, {"family_size": 31}, "invalid_family_size"),
        (GAS, {"family_size": -2}, "invalid_family_size"),
        (FOOD, {"assistance": ["HOUSING"]}, "not_eligible_assistance"),
        (FOOD, {"assistance": []}, "not_eligible_assistance"),
        (GAS, {"assistance": ["PENSION"]}, "not_eligible_assistance"),
    ],
)
def test_each_reason_code(rules: ProgramVersion, changes: dict[str, Any], reason: str) -> None:
    """Each failed check returns its own reason code, the first failing check winning."""
    assert listing_problem(rules, **_person(**changes)) == reason
