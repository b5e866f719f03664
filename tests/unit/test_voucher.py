"""Voucher values (rules/voucher.py): the gas discount formula and the food voucher amount."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from models.programs import VoucherRule, load_programs
from models.reference import GasTariff
from rules.voucher import discount_mismatch, food_voucher_amount, gas_discount, to_tenge

# benefit 31.20 - 24.96 = 6.24 KZT per m³, norm 220 m³ (Astana's first sample row)
TARIFF = GasTariff(
    region="AST",
    effective_from=date(2025, 7, 1),
    price_group1_kzt_per_m3=Decimal("31.20"),
    price_group9_kzt_per_m3=Decimal("24.96"),
    norm_m3=Decimal("220"),
    price_source="sample: test",
    norm_source="sample: test",
)
FOOD = VoucherRule(kind="fixed_mrp", per="family_member")


@pytest.mark.parametrize(
    ("volume", "discount"),
    [
        ("0", 0),
        ("100", 624),  # below the norm: 6.24 × 100
        ("123.4", 770),  # 770.016 rounds down
        ("219.9", 1372),  # 1372.176
        ("220", 1373),  # at the norm: 1372.8 rounds up
        ("220.001", 1373),  # above the norm: capped
        ("1000", 1373),
    ],
)
def test_gas_discount_is_benefit_times_volume_capped_at_the_norm(
    volume: str, discount: int
) -> None:
    """The discount is benefit × min(volume, norm), rounded half up to whole tenge."""
    assert gas_discount(volume_m3=Decimal(volume), tariff=TARIFF) == discount


@pytest.mark.parametrize(("volume", "discount"), [("5", 3), ("7", 4), ("4.99", 2)])
def test_gas_discount_rounds_half_up(volume: str, discount: int) -> None:
    """Exactly half a tenge rounds up (2.5 → 3, 3.5 → 4), never to even."""
    tariff = TARIFF.model_copy(
        update={
            "price_group1_kzt_per_m3": Decimal("10.00"),
            "price_group9_kzt_per_m3": Decimal("9.50"),
        }
    )
    assert gas_discount(volume_m3=Decimal(volume), tariff=tariff) == discount


def test_negative_consumption_is_an_error() -> None:
    """A negative volume is refused rather than turned into a negative discount."""
    with pytest.raises(ValueError):
        gas_discount(volume_m3=Decimal("-1"), tariff=TARIFF)


@pytest.mark.parametrize(
    ("mrp", "family_size", "amount"),
    [(3932, 1, 3932), (3932, 4, 15728), (4325, 1, 4325), (4325, 3, 12975), (4325, 30, 129750)],
)
def test_food_amount_is_one_mrp_per_family_member(mrp: int, family_size: int, amount: int) -> None:
    """Each family member's voucher is worth one MRP of the month's year."""
    assert food_voucher_amount(FOOD, mrp_kzt=mrp, family_size=family_size, region="AKM") == amount


def test_shipped_food_rule_gives_one_mrp_per_member() -> None:
    """The shipped food version values a family of five at five MRP."""
    version = load_programs().for_month("food", "2026-02")
    assert version is not None
    amount = food_voucher_amount(version.voucher, mrp_kzt=4325, family_size=5, region="PAV")
    assert amount == 5 * 4325


@pytest.mark.parametrize(
    ("region", "cap", "amount"),
    [
        ("PAV", None, 3 * 4758),  # 4325 × 1.1 = 4757.5 → 4758 per member
        ("AKM", None, 3 * 4325),  # no adjustment for the region
        ("PAV", 1.05, 3 * 4541),  # capped: 4325 × 1.05 = 4541.25 → 4541
    ],
)
def test_regional_adjustment_rounds_per_member_and_respects_the_cap(
    region: str, cap: float | None, amount: int
) -> None:
    """A regional multiplier adjusts each member's voucher, never above the markup cap."""
    rule = VoucherRule(
        kind="fixed_mrp",
        per="family_member",
        regional_multiplier={"PAV": 1.1},
        max_multiplier=cap,
    )
    assert food_voucher_amount(rule, mrp_kzt=4325, family_size=3, region=region) == amount


def test_per_recipient_rule_gives_one_voucher() -> None:
    """A fixed-MRP rule per recipient ignores the family size."""
    rule = VoucherRule(kind="fixed_mrp", per="recipient")
    assert food_voucher_amount(rule, mrp_kzt=4325, family_size=4, region="AKM") == 4325


@pytest.mark.parametrize(
    ("rule", "family_size"),
    [(VoucherRule(kind="gas_discount", per="recipient"), 1), (FOOD, 0)],
)
def test_food_amount_refuses_bad_input(rule: VoucherRule, family_size: int) -> None:
    """A gas rule or an empty family has no food voucher amount."""
    with pytest.raises(ValueError):
        food_voucher_amount(rule, mrp_kzt=4325, family_size=family_size, region="AKM")


@pytest.mark.parametrize(
    ("reported", "computed", "mismatch"),
    [
        (None, 1373, False),
        (1373, 1373, False),
        (1372, 1373, True),
        (1374, 1373, True),
        (0, 0, False),
    ],
)
def test_discount_mismatch(reported: int | None, computed: int, mismatch: bool) -> None:
    """Any difference between the provider's discount and the formula's is flagged."""
    assert discount_mismatch(reported, computed) is mismatch


@pytest.mark.parametrize(("value", "tenge"), [("0.5", 1), ("1.49", 1), ("2.5", 3), ("-0.5", -1)])
def test_to_tenge_rounds_half_away_from_zero(value: str, tenge: int) -> None:
    """Rounding to whole tenge is half up, not banker's rounding."""
    assert to_tenge(Decimal(value)) == tenge
