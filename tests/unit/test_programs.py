"""The shipped program definitions (models/data/programs) against SPEC.md §2 and §4."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path
from typing import cast

import pytest
from pydantic import ValidationError

from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.cycle import Citizen
from models.programs import Lang, ProgramBook, ProgramNotConfigured, ProgramVersion, load_programs
from models.reference import load_reference
from rules.listing import prepare_cycle

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


def test_the_shipped_book_holds_only_the_seeds_versions(book: ProgramBook) -> None:
    """The shipped versions are the seeds' orders, each its own version: the gas order of
    2025-07, food seed 002 and food seed 004 (SPEC.md §7 "two food orders, not one"); the
    continuations are a deployment's data, not law."""
    assert [v.version for v in book.versions] == ["gas-2025-07", "food-2025-06", "food-2025-12"]


def test_the_continuations_are_a_deployments_example() -> None:
    """The versions continuing the pilots live in examples/program-data (SPEC.md §7 "after the
    pilots"), loaded as PROGRAM_DATA_DIR by make run, make simulate and the tests."""
    book = load_programs(EXAMPLE_PROGRAM_DATA)
    assert [v.version for v in book.versions] == [
        "gas-2025-07",
        "gas-continuation",
        "food-2025-06",
        "food-2025-12",
        "food-continuation",
    ]


@pytest.mark.parametrize("data_dir", [None, EXAMPLE_PROGRAM_DATA])
@pytest.mark.parametrize("program", ["gas", "food"])
def test_versions_of_a_program_never_overlap(program: str, data_dir: Path | None) -> None:
    """No day is covered by two versions of the same program, shipped or example."""
    versions = sorted(
        (v for v in load_programs(data_dir).versions if v.program == program),
        key=lambda v: v.effective_from,
    )
    for earlier, later in zip(versions, versions[1:], strict=False):
        assert earlier.effective_until is not None
        assert earlier.effective_until < later.effective_from


@pytest.mark.parametrize(
    ("program", "month", "shipped", "with_example"),
    [
        ("gas", "2025-07", None, None),  # before the pilot
        ("gas", "2025-08", None, None),  # the pilot starts on the 28th, after the 7th
        ("gas", "2025-09", "gas-2025-07", "gas-2025-07"),
        ("gas", "2026-06", "gas-2025-07", "gas-2025-07"),
        ("gas", "2026-07", None, "gas-continuation"),
        ("gas", "2030-01", None, "gas-continuation"),
        ("food", "2025-05", None, None),  # before seed 002
        ("food", "2025-06", None, None),  # seed 002 starts on the 26th, after the 5th
        ("food", "2025-07", "food-2025-06", "food-2025-06"),
        ("food", "2025-09", "food-2025-06", "food-2025-06"),
        ("food", "2025-10", None, None),  # between the pilots
        ("food", "2026-01", "food-2025-12", "food-2025-12"),  # in force from 5 January
        ("food", "2026-04", "food-2025-12", "food-2025-12"),
        ("food", "2026-05", None, "food-continuation"),  # seed 004 ended on 30 April
        ("food", "2026-06", None, "food-continuation"),
    ],
)
def test_a_month_belongs_to_the_version_in_force_on_its_send_day(
    program: str, month: str, shipped: str | None, with_example: str | None
) -> None:
    """A month whose send day falls before a version starts belongs to no version (SPEC.md
    §7: gas opened on 2025-08-28, its first month is September 2025); none after it ends."""
    for data_dir, expected in ((None, shipped), (EXAMPLE_PROGRAM_DATA, with_example)):
        found = load_programs(data_dir).for_month(program, month)
        assert (found.version if found else None) == expected


def test_gas_rules_follow_the_spec_table(book: ProgramBook) -> None:
    """The gas version carries the day rules, territory and voucher of SPEC.md §2 (gas order
    item 1, Alg. 5, 14-17, 29)."""
    v = _version(book, "gas-2025-07")
    assert set(v.territory.regions) == GAS_REGIONS and v.territory.localities is None
    assert (v.list_cutoff_day, v.send_day, v.reminder_after_days) == (14, 7, 7)
    assert v.consent_deadline_day == 29
    assert (v.activation_from_day, v.activation_until_day) == (7, 29)
    assert v.handover_day == 30 and v.takes_late_additions and v.consent_scope == "month"
    assert v.eligible_assistance == ("TSA", "HOUSING")
    assert (v.voucher.kind, v.voucher.per) == ("gas_discount", "recipient")
    assert (v.short_number, v.support_phone) == ("1414", "5104")
    assert (v.effective_from, v.effective_until) == (date(2025, 8, 28), date(2026, 6, 30))


@pytest.mark.parametrize(
    ("name", "regions", "towns", "activation_from", "phone"),
    [
        ("food-2025-06", ("AKM",), ("AKKOL",), 5, "87163820020"),
        ("food-2025-12", ("AKM", "PAV"), ("KOKSHETAU", "AKKOL", "PAVLODAR"), 1, ""),
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
    """Each food version carries its territory, activation day, phone and the shared food rules
    (seed 002 Alg. 4-7, 19-21; seed 004 item 1, Alg. 4-6, 18-20)."""
    v = _version(book, name)
    assert (v.territory.regions, v.territory.localities) == (regions, towns)
    assert (v.activation_from_day, v.support_phone) == (activation_from, phone)
    assert (v.list_cutoff_day, v.send_day, v.reminder_after_days) == (4, 5, 5)
    assert v.consent_deadline_day is None and v.activation_until_day is None
    assert v.handover_day is None and not v.takes_late_additions
    assert v.consent_scope == "program_period" and v.eligible_assistance == ("TSA",)
    assert (v.voucher.kind, v.voucher.per, v.voucher.mrp_multiplier) == (
        "fixed_mrp",
        "family_member",
        1.0,
    )
    assert v.voucher.max_multiplier is None and v.short_number == "1415"


def test_seed_002_is_its_own_version(book: ProgramBook) -> None:
    """Seed 002: Akkol from 26.06.2025 to 26.09.2025 (Alg. 4), consent given until 31.07.2025
    (annex), reduced price = purchase price without trade markup (Alg. 2.1, 6), results three
    months after the pilot (order item 3.2); its fixed amount is a labelled interpretation."""
    v = _version(book, "food-2025-06")
    assert (v.effective_from, v.effective_until) == (date(2025, 6, 26), date(2025, 9, 26))
    assert v.consent_valid_until == date(2025, 7, 31)
    assert v.voucher.reduced_price == "purchase_price_without_markup"
    assert v.results_report_after_months == 3
    assert "interpretation" in v.sources["voucher"] and "2.6" in v.sources["voucher"]


def test_seed_004_runs_through_30_april_2026(book: ProgramBook) -> None:
    """Seed 004 item 9, "до 1 мая 2026 года", read as through 30 April 2026 (SPEC.md §7); its
    reduced price is a discount within the maximum trade markup (Alg. 2.1, 12)."""
    v = _version(book, "food-2025-12")
    assert (v.effective_from, v.effective_until) == (date(2026, 1, 5), date(2026, 4, 30))
    assert v.in_force_on(date(2026, 4, 30)) and not v.in_force_on(date(2026, 5, 1))
    assert v.voucher.reduced_price == "within_max_trade_markup"
    assert v.consent_valid_until is None and v.results_report_after_months == 0


RULE_FIELDS = (
    "effective_from",
    "effective_until",
    "territory",
    "eligible_assistance",
    "list_cutoff_day",
    "send_day",
    "reminder_after_days",
    "consent_deadline_day",
    "consent_scope",
    "activation_from_day",
    "activation_until_day",
    "reply_codes",
    "short_number",
    "support_phone",
    "sending_window",
    "sms",
    "voucher",
)


@pytest.mark.parametrize("name", ["gas-2025-07", "food-2025-06", "food-2025-12"])
def test_every_rule_points_to_its_article(book: ProgramBook, name: str) -> None:
    """Each field a seed's text sets says where it comes from: an article ("Alg. 17", "item
    9"), an annex, or the words "interpretation" / "sample" (issue 11 item 1)."""
    v = _version(book, name)
    wanted = set(RULE_FIELDS) | ({"handover_day"} if v.program == "gas" else set())
    assert wanted <= set(v.sources), sorted(wanted - set(v.sources))
    for field, pointer in v.sources.items():
        assert any(
            word in pointer for word in ("Alg.", "item", "annex", "interpretation", "sample")
        ), (field, pointer)


@pytest.mark.parametrize(
    ("name", "month", "carries"),
    [
        ("food-2025-06", "2025-07", True),  # sent on 5 July, consent given until 31 July
        ("food-2025-06", "2025-08", False),  # after 31 July 2025: asked again
        ("food-2025-06", "2025-09", False),
        ("food-2025-12", "2026-02", True),  # "действует в период оказания указанной услуги"
        ("food-2025-12", "2026-04", True),
        ("gas-2025-07", "2025-10", False),  # gas asks every month
    ],
)
def test_a_consent_counts_for_later_months_until_consent_valid_until(
    book: ProgramBook, name: str, month: str, carries: bool
) -> None:
    """Seed 002's annex: consent is given until 31 July 2025; after it, the program-period
    consent no longer counts and the citizen is asked again (SPEC.md §7)."""
    assert _version(book, name).consent_carries_over(month) is carries


def test_late_additions_follow_from_the_cutoff_and_send_days(book: ProgramBook) -> None:
    """``late_additions`` was never read: it is not a field any more, it follows from the
    days. Gas Alg. 15-16: the list changes until the 14th, after the 7th's SMS, and those added
    are texted on arrival; food (seed 004 Alg. 18-19) closes the list on the 4th, the day before
    its SMS, so it has none."""
    assert _version(book, "gas-2025-07").takes_late_additions
    assert not _version(book, "food-2025-12").takes_late_additions
    raw = _version(book, "food-2025-12").model_dump(mode="json")
    with pytest.raises(ValidationError, match="late_additions"):
        ProgramVersion.model_validate({**raw, "late_additions": False})


def test_every_territory_code_is_known_reference_data(book: ProgramBook) -> None:
    """Every region and town a version names exists in the reference data, in the right region."""
    ref = load_reference()
    for v in book.versions:
        assert set(v.territory.regions) <= set(ref.regions)
        for town in v.territory.localities or ():
            assert ref.localities[town].region in v.territory.regions


@pytest.mark.parametrize("name", ["gas-2025-07", "food-2025-06"])
@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_consent_request_names_the_support_number(book: ProgramBook, name: str, lang: Lang) -> None:
    """The rendered consent request carries the version's support number and no placeholder."""
    v = _version(book, name)
    text = v.text("consent_request", lang)
    assert v.support_phone in text and "{phone}" not in text
    assert "{phone}" in v.sms.consent_request[lang]


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_a_blank_placeholder_is_never_sent(book: ProgramBook, lang: Lang) -> None:
    """Seed 004's annex prints a blank for the support number: the version cannot text until
    a deployment sets it (SPEC.md §7); the printed blank is never sent as a number."""
    v = _version(book, "food-2025-12")
    assert not v.configured and v.unset_placeholders() == ["support_phone"]
    assert "_________" not in v.sms.consent_request[lang]
    with pytest.raises(ProgramNotConfigured, match="support_phone"):
        v.text("consent_request", lang)
    assert "egovmobile" in v.text("confirmation", lang)  # a text without a placeholder is fine


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_the_texts_take_the_support_number_from_the_data(book: ProgramBook, lang: Lang) -> None:
    """``support_phone`` set by a deployment is what the consent request says (seed 004 annex
    item 1), not a hard-coded blank."""
    v = _version(book, "food-2025-12").model_copy(update={"support_phone": "87182000000"})
    assert v.configured
    text = v.text("consent_request", lang)
    assert "87182000000" in text and "_________" not in text


@pytest.mark.parametrize("phone", ["_________", "call us", "12"])
def test_a_support_number_is_digits_or_blank(book: ProgramBook, phone: str) -> None:
    """A support number is a number: a printed blank or a word is refused at load."""
    raw = _version(book, "food-2025-12").model_dump(mode="json")
    with pytest.raises(ValidationError, match="support_phone"):
        ProgramVersion.model_validate({**raw, "support_phone": phone})


def test_a_text_with_an_unknown_placeholder_is_refused(book: ProgramBook) -> None:
    """Every placeholder of a text must be one the version can fill."""
    raw = _version(book, "gas-2025-07").model_dump(mode="json")
    raw["sms"]["confirmation"]["ru"] = "Позвоните {hotline}"
    with pytest.raises(ValidationError, match="hotline"):
        ProgramVersion.model_validate(raw)


def test_no_cycle_is_prepared_under_an_unconfigured_version(book: ProgramBook) -> None:
    """A version that cannot text yet starts no cycle (SPEC.md §7)."""
    citizen = Citizen(iin="000000000000", region="PAV", locality="PAVLODAR")
    with pytest.raises(ProgramNotConfigured, match="support_phone"):
        prepare_cycle(
            _version(book, "food-2025-12"),
            month="2026-02",
            citizen=citizen,
            citizen_ref="ref",
            mrp_kzt=4325,
        )


@pytest.mark.parametrize("name", ["gas-2025-07", "food-2025-06", "food-2025-12"])
@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_texts_carry_the_reply_codes_and_the_wallet_link(
    book: ProgramBook, name: str, lang: Lang
) -> None:
    """Consent requests name the agree code (food also the refuse code); confirmations the link."""
    v = _version(book, name).model_copy(update={"support_phone": "5104"})
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
