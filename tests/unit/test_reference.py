"""The shipped reference data (models/data) and its look-ups."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from models.programs import load_programs
from models.reference import FoodGood, GasTariff, Reference, load_reference

ALL_REGIONS = {
    "AST", "ALA", "SHY", "AKM", "AKT", "ALM", "ATY", "VOS", "ZHA", "ZHE",
    "ZAP", "KAR", "KUS", "KZY", "MAN", "YUZ", "ULY", "PAV", "SEV", "ABA",
}  # fmt: skip


@pytest.fixture(scope="module")
def ref() -> Reference:
    return load_reference()


def test_loader_is_cached() -> None:
    """The reference data is read once per process."""
    assert load_reference() is load_reference()


def test_regions_are_the_contract_codes_with_three_names(ref: Reference) -> None:
    """Every CONTRACTS.md region code is present with a Russian, Kazakh and English name."""
    assert set(ref.regions) == ALL_REGIONS
    for code, region in ref.regions.items():
        assert region.code == code
        assert region.name.ru and region.name.kk and region.name.en


@pytest.mark.parametrize(
    ("town", "region"), [("KOKSHETAU", "AKM"), ("AKKOL", "AKM"), ("PAVLODAR", "PAV")]
)
def test_localities_know_their_region(ref: Reference, town: str, region: str) -> None:
    """Each food-pilot town is listed with the region it lies in."""
    assert ref.localities[town].region == region


def test_every_gas_region_has_a_sample_tariff_at_the_pilot_start(ref: Reference) -> None:
    """Each gas-pilot region resolves to a sample-labelled tariff on the pilot's first day."""
    pilot = load_programs().for_month("gas", "2025-09")
    assert pilot is not None
    for region in pilot.territory.regions:
        tariff = ref.gas_tariff(region, date(2025, 8, 28))
        assert tariff is not None and tariff.sample
        assert isinstance(tariff.norm_m3, Decimal) and tariff.benefit_kzt_per_m3 > 0


@pytest.mark.parametrize(
    ("on", "effective_from"),
    [
        (date(2025, 6, 30), None),
        (date(2025, 7, 1), date(2025, 7, 1)),
        (date(2025, 12, 31), date(2025, 7, 1)),
        (date(2026, 1, 1), date(2026, 1, 1)),
        (date(2027, 3, 15), date(2026, 1, 1)),
    ],
)
def test_gas_tariff_resolves_by_date(ref: Reference, on: date, effective_from: date | None) -> None:
    """The tariff in force is the latest one effective on the day, none before the first."""
    tariff = ref.gas_tariff("AST", on)
    assert (tariff.effective_from if tariff else None) == effective_from


def test_gas_tariff_of_a_region_without_gas_is_none(ref: Reference) -> None:
    """A region with no tariff row resolves to None."""
    assert ref.gas_tariff("PAV", date(2026, 1, 1)) is None


def test_group_9_price_above_group_1_is_rejected() -> None:
    """A tariff whose benefit would be negative does not validate."""
    with pytest.raises(ValidationError):
        GasTariff(
            region="AST",
            effective_from=date(2026, 1, 1),
            price_group1_kzt_per_m3=Decimal("10"),
            price_group9_kzt_per_m3=Decimal("11"),
            norm_m3=Decimal("100"),
        )


@pytest.mark.parametrize(("year", "kzt"), [(2025, 3932), (2026, 4325), (2027, 4325), (2040, 4325)])
def test_mrp_by_year_falls_back_to_the_latest_known(ref: Reference, year: int, kzt: int) -> None:
    """The MRP is the budget law's figure, and the latest known one for years not set yet."""
    assert ref.mrp(year) == kzt


def test_mrp_before_the_first_known_year_is_an_error(ref: Reference) -> None:
    """A year before any known figure raises instead of guessing."""
    with pytest.raises(LookupError):
        ref.mrp(2024)


def test_food_goods_list_is_the_national_list(ref: Reference) -> None:
    """The 19 socially significant food goods are listed with unique codes, names and units."""
    goods = ref.food_goods()
    assert len(goods) == 19 and len({g.code for g in goods}) == 19
    assert all(g.name and g.unit for g in goods)


@pytest.mark.parametrize(
    ("code", "expected"), [("buckwheat", True), ("milk", True), ("vodka", False), ("", False)]
)
def test_is_food_good(ref: Reference, code: str, expected: bool) -> None:
    """Only codes of the list are socially significant food goods."""
    assert ref.is_food_good(code) is expected


def test_a_goods_cap_without_its_source_is_refused() -> None:
    """SPEC.md §7: every per-good cap says where it comes from (``sample`` where the seeds
    give none); a figure without its source does not load."""
    with pytest.raises(ValueError, match="without its source"):
        FoodGood(code="salt", name="Соль", unit="kg", max_discount_per_unit_kzt=15)
    assert FoodGood(code="salt", name="Соль", unit="kg").max_discount_per_unit_kzt is None


def test_a_good_is_found_by_its_code(ref: Reference) -> None:
    """``food_good`` finds a good of the list (with its cap) and nothing off it."""
    milk = ref.food_good("milk")
    assert milk is not None and milk.unit == "l" and milk.max_discount_per_unit_kzt is not None
    assert ref.food_good("caviar") is None
