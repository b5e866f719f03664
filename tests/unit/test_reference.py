"""The shipped reference data (models/data) and its look-ups."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.programs import load_programs
from models.reference import (
    FoodGood,
    GasTariff,
    MissingFigure,
    MrpFigure,
    Reference,
    load_reference,
)

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


def test_every_figure_says_where_it_comes_from(ref: Reference) -> None:
    """Every figure carries its provenance: ``law``, ``resolution``, ``order`` or ``sample``
    (issue 11 item 2); the MRPs are the budget laws' (SPEC.md §5)."""
    kinds = ("law", "resolution", "order", "sample")
    for tariff in ref.gas_tariffs:
        assert tariff.price_source.startswith(kinds) and tariff.norm_source.startswith(kinds)
    assert {year: figure.source.split(":")[0] for year, figure in ref.mrp_by_year.items()} == {
        2025: "law",
        2026: "law",
    }
    with pytest.raises(ValidationError, match="source"):
        MrpFigure(year=2027, kzt=4500, source="my guess")


def test_akmola_norm_cites_no_resolution(ref: Reference) -> None:
    """The gas order (item 4.3) cites a norm resolution for every pilot region but Akmola:
    its sample row says so, the others name the resolution whose figure they stand in for."""
    akmola = ref.gas_tariff("AKM", date(2025, 9, 1))
    assert akmola is not None and "cites no resolution" in akmola.norm_source
    astana = ref.gas_tariff("AST", date(2025, 9, 1))
    assert astana is not None and "No. 506-1566" in astana.norm_source


@pytest.mark.parametrize(
    ("allow", "region", "problem"),
    [
        (False, "KAR", "sample"),
        (True, "KAR", None),
        (False, "PAV", "missing"),
        (True, "PAV", "missing"),
    ],
)
def test_a_discount_is_settled_only_from_figures_the_deployment_allows(
    ref: Reference, allow: bool, region: str, problem: str | None
) -> None:
    """SPEC.md §7 "missing figures are never guessed": a tariff with a sample figure is not
    settled unless the deployment allows sample figures; a missing one never is."""
    answer = ref.settleable_tariff(region, date(2027, 1, 1), allow_sample=allow)
    assert answer.problem == problem
    assert (answer.tariff is not None) is (region == "KAR")


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
            price_source="sample: test",
            norm_source="sample: test",
        )


@pytest.mark.parametrize(("year", "kzt"), [(2025, 3932), (2026, 4325)])
def test_mrp_is_the_budget_laws_figure(ref: Reference, year: int, kzt: int) -> None:
    """The MRP of a year is the figure its budget law sets (SPEC.md §5)."""
    assert ref.mrp(year) == kzt


@pytest.mark.parametrize("year", [2024, 2027, 2040])
def test_a_year_without_an_mrp_is_never_paid_at_another_years_figure(
    ref: Reference, year: int
) -> None:
    """SPEC.md §7: a year without an MRP in the data is an error naming the figure, never last
    year's figure reused."""
    with pytest.raises(MissingFigure, match=f"MRP {year}") as missing:
        ref.mrp(year)
    assert missing.value.figure == f"MRP {year}"


def test_a_sample_mrp_pays_only_where_the_deployment_allows_sample_figures() -> None:
    """The example's 2027 MRP is a sample: money is computed from it only where allowed."""
    example = load_reference(EXAMPLE_PROGRAM_DATA)
    assert example.mrp(2027, allow_sample=True) == 4325
    with pytest.raises(MissingFigure, match="MRP 2027: only a sample"):
        example.mrp(2027, allow_sample=False)


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
