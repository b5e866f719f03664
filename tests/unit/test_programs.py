"""The shipped program definitions (models/data/programs) against SPEC.md §2 and §4."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from typing import cast

import pytest

from models.programs import Lang, ProgramBook, ProgramVersion, load_programs
from models.reference import load_reference

GAS_REGIONS = {
    "AST", "ALA", "SHY", "AKM", "AKT", "ALM", "ATY", "VOS", "ZHA",
    "ZHE", "ZAP", "KAR", "KUS", "KZY", "MAN", "YUZ", "ULY",
}  # fmt: skip


@pytest.fixture(scope="module")
def book() -> ProgramBook:
    return load_programs()


def _version(book: ProgramBook, name: str) -> ProgramVersion:
    return next(v for v in book.versions if v.version == name)


@pytest.mark.parametrize("program", ["gas", "food"])
def test_every_shipped_version_validates(program: str) -> None:
    """Each version in the program's JSON file validates as a ProgramVersion on its own."""
    folder = resources.files("models") / "data" / "programs"
    raw = json.loads((folder / f"{program}.json").read_text(encoding="utf-8"))
    versions = [ProgramVersion.model_validate(item) for item in raw["versions"]]
    assert versions and all(v.program == program for v in versions)


def test_the_book_holds_the_expected_versions(book: ProgramBook) -> None:
    """The book holds the two pilots of food, the gas pilot and both continuations, once each."""
    assert [v.version for v in book.versions] == [
        "gas-2025-07",
        "gas-continuation",
        "food-2025-06",
        "food-2025-12",
        "food-continuation",
    ]


@pytest.mark.parametrize("program", ["gas", "food"])
def test_versions_of_a_program_never_overlap(book: ProgramBook, program: str) -> None:
    """No day is covered by two versions of the same program."""
    versions = sorted(
        (v for v in book.versions if v.program == program), key=lambda v: v.effective_from
    )
    for earlier, later in zip(versions, versions[1:], strict=False):
        assert earlier.effective_until is not None
        assert earlier.effective_until < later.effective_from


@pytest.mark.parametrize(
    ("program", "month", "expected"),
    [
        ("gas", "2025-07", None),  # before the pilot
        ("gas", "2025-08", None),  # the pilot starts on the 28th: its first month is September
        ("gas", "2025-09", "gas-2025-07"),
        ("gas", "2026-06", "gas-2025-07"),
        ("gas", "2026-07", "gas-continuation"),
        ("gas", "2030-01", "gas-continuation"),
        ("food", "2025-05", None),  # before seed 002
        ("food", "2025-06", None),  # seed 002 starts on the 26th
        ("food", "2025-07", "food-2025-06"),
        ("food", "2025-09", "food-2025-06"),
        ("food", "2025-10", None),  # between the pilots
        ("food", "2026-01", "food-2025-12"),  # seed 004 is in force from 5 January, the send day
        ("food", "2026-02", "food-2025-12"),
        ("food", "2026-04", "food-2025-12"),
        ("food", "2026-05", "food-continuation"),  # seed 004 ended on 1 May, before the 5th
        ("food", "2026-06", "food-continuation"),
    ],
)
def test_for_month_picks_the_version_in_force_on_the_send_day(
    book: ProgramBook, program: str, month: str, expected: str | None
) -> None:
    """A month resolves to the version in force on its send day, or to none."""
    found = book.for_month(program, month)
    assert (found.version if found else None) == expected


def test_gas_rules_follow_the_spec_table(book: ProgramBook) -> None:
    """Both gas versions carry the day rules, territory and voucher of SPEC.md §2."""
    for name in ("gas-2025-07", "gas-continuation"):
        v = _version(book, name)
        assert set(v.territory.regions) == GAS_REGIONS and v.territory.localities is None
        assert (v.list_cutoff_day, v.send_day, v.reminder_after_days) == (14, 7, 7)
        assert v.consent_deadline_day == 29
        assert (v.activation_from_day, v.activation_until_day) == (7, 29)
        assert v.handover_day == 30 and v.late_additions and v.consent_scope == "month"
        assert v.eligible_assistance == ("TSA", "HOUSING")
        assert (v.voucher.kind, v.voucher.per) == ("gas_discount", "recipient")
        assert (v.short_number, v.support_phone, v.sample_figures) == ("1414", "5104", False)
    pilot = _version(book, "gas-2025-07")
    assert (pilot.effective_from, pilot.effective_until) == (date(2025, 8, 28), date(2026, 6, 30))


@pytest.mark.parametrize(
    ("name", "regions", "towns", "activation_from", "phone"),
    [
        ("food-2025-06", ("AKM",), ("AKKOL",), 5, "87163820020"),
        ("food-2025-12", ("AKM", "PAV"), ("KOKSHETAU", "AKKOL", "PAVLODAR"), 1, ""),
        ("food-continuation", ("AKM", "PAV"), ("KOKSHETAU", "AKKOL", "PAVLODAR"), 1, ""),
    ],
)
def test_food_rules_follow_the_spec_table(
    book: ProgramBook,
    name: str,
    regions: tuple[str, ...],
    towns: tuple[str, ...],
    activation_from: int,
    phone: str,
) -> None:
    """Each food version carries its territory, activation day, phone and the shared food rules."""
    v = _version(book, name)
    assert (v.territory.regions, v.territory.localities) == (regions, towns)
    assert (v.activation_from_day, v.support_phone) == (activation_from, phone)
    assert (v.list_cutoff_day, v.send_day, v.reminder_after_days) == (4, 5, 5)
    assert v.consent_deadline_day is None and v.activation_until_day is None
    assert v.handover_day is None and not v.late_additions
    assert v.consent_scope == "program_period" and v.eligible_assistance == ("TSA",)
    assert (v.voucher.kind, v.voucher.per, v.voucher.mrp_multiplier) == (
        "fixed_mrp",
        "family_member",
        1.0,
    )
    assert v.voucher.max_multiplier is None and v.short_number == "1415"


def test_every_territory_code_is_known_reference_data(book: ProgramBook) -> None:
    """Every region and town a version names exists in the reference data, in the right region."""
    ref = load_reference()
    for v in book.versions:
        assert set(v.territory.regions) <= set(ref.regions)
        for town in v.territory.localities or ():
            assert ref.localities[town].region in v.territory.regions


@pytest.mark.parametrize("name", ["gas-2025-07", "gas-continuation", "food-2025-06"])
@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_consent_request_names_the_support_number(book: ProgramBook, name: str, lang: Lang) -> None:
    """The rendered consent request carries the version's support number and no placeholder."""
    v = _version(book, name)
    text = v.text("consent_request", lang)
    assert v.support_phone in text and "{phone}" not in text
    assert "{phone}" in v.sms.consent_request[lang]


@pytest.mark.parametrize("name", ["food-2025-12", "food-continuation"])
@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_blank_support_phone_keeps_the_printed_blank(
    book: ProgramBook, name: str, lang: Lang
) -> None:
    """Where seed 004 prints no number, the text keeps its printed blank instead of a number."""
    text = _version(book, name).text("consent_request", lang)
    assert "_________" in text and "{phone}" not in text


@pytest.mark.parametrize("name", ["gas-2025-07", "food-2025-06", "food-2025-12"])
@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_texts_carry_the_reply_codes_and_the_wallet_link(
    book: ProgramBook, name: str, lang: Lang
) -> None:
    """Consent requests name the agree code (food also the refuse code); confirmations the link."""
    v = _version(book, name)
    request = v.text("consent_request", lang)
    assert v.reply_codes.agree in request
    assert (v.reply_codes.refuse in request) == (v.program == "food")
    assert "https://egovmobile.page.link/socwallet" in v.text("confirmation", lang)


def test_unknown_language_falls_back_to_russian(book: ProgramBook) -> None:
    """Texts are read in Russian when the requested language is missing."""
    v = _version(book, "gas-2025-07")
    assert v.text("confirmation", cast(Lang, "en")) == v.text("confirmation", "ru")


def test_the_two_programs_text_from_different_short_numbers(book: ProgramBook) -> None:
    """A reply can be matched to its program because gas and food use different short numbers."""
    assert {v.program for v in book.by_short_number("1414")} == {"gas"}
    assert {v.program for v in book.by_short_number("1415")} == {"food"}


def test_every_food_version_bounds_the_purchases_per_voucher(book: ProgramBook) -> None:
    """Issue 12 item 5: each purchase is an update on the cycle, so the program data bounds
    how many a voucher takes (``max_purchases_per_voucher``), stated in every food version."""
    raw = json.loads((resources.files("models") / "data/programs/food.json").read_text("utf-8"))
    assert all("max_purchases_per_voucher" in version for version in raw["versions"])
    for version in (v for v in book.versions if v.program == "food"):
        assert 1 <= version.max_purchases_per_voucher <= 1_000
