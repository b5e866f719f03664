"""Voucher values (rules/voucher.py): the gas discount formula, the food voucher amount, and the
most a food purchase line may be discounted (SPEC.md §7 "Per-good cap")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.programs import VoucherRule, load_programs
from models.reference import GasTariff, load_reference
from models.voucher import MAX_QTY, Purchase, PurchaseLine
from rules.voucher import (
    discount_mismatch,
    food_voucher_amount,
    gas_discount,
    line_discount_allowed,
    line_discount_limit,
    to_tenge,
)

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


# --- the per-good cap (SPEC.md §7; seed 004 items 2.1, 2.5, 12) -------------------------------


@pytest.mark.parametrize(
    ("qty", "price", "cap", "limit"),
    [
        ("1", 1, None, "1"),  # no cap: the line's value
        ("2", 500, None, "1000"),
        ("2", 500, 45, "90"),  # the cap is below the value: qty × cap
        ("2", 30, 45, "60"),  # the value is below the cap: the value
        ("2", 45, 45, "90"),  # both equal
        ("0.5", 3, None, "1.5"),  # fractional quantities: exact, not rounded
        ("0.333", 100, 45, "14.985"),
        ("1", 0, 45, "0"),  # a free good: no discount
        ("3", 10**9, 0, "0"),  # a cap of 0: no discount
        (str(MAX_QTY), 10**9, None, str(MAX_QTY * 10**9)),
    ],
)
def test_the_line_discount_limit_is_the_lesser_of_its_value_and_qty_times_the_cap(
    qty: str, price: int, cap: int | None, limit: str
) -> None:
    """A line's discount is at most ``qty × unit price`` and at most ``qty × cap``."""
    found = line_discount_limit(qty=Decimal(qty), unit_price_kzt=price, cap_per_unit_kzt=cap)
    assert found == Decimal(limit)


@pytest.mark.parametrize(
    ("discount", "qty", "price", "cap", "allowed"),
    [
        (4325, "1", 1, None, False),  # issue 12: one item at 1 ₸ cannot empty the voucher
        (1, "1", 1, None, True),
        (0, "1", 1, None, True),
        (90, "2", 500, 45, True),
        (91, "2", 500, 45, False),
        (1, "0.5", 3, None, True),  # 1 ≤ 1.5
        (2, "0.5", 3, None, False),  # 2 > 1.5
        (0, "1", 0, 0, True),
        (-1, "1", 10, None, False),
    ],
)
def test_a_line_discount_above_its_value_or_the_goods_cap_is_not_allowed(
    discount: int, qty: str, price: int, cap: int | None, allowed: bool
) -> None:
    """Whole-tenge discounts are compared with the exact limit."""
    verdict = line_discount_allowed(
        discount, qty=Decimal(qty), unit_price_kzt=price, cap_per_unit_kzt=cap
    )
    assert verdict is allowed


@given(
    qty=st.decimals(min_value="0.001", max_value=MAX_QTY, places=3),
    price=st.integers(min_value=0, max_value=10**9),
    cap=st.none() | st.integers(min_value=0, max_value=10**9),
    discount=st.integers(min_value=0, max_value=10**9),
)
def test_the_line_discount_limit_holds_for_any_line(
    qty: Decimal, price: int, cap: int | None, discount: int
) -> None:
    """Never above the value, never above qty × cap, and allowed exactly up to the limit."""
    limit = line_discount_limit(qty=qty, unit_price_kzt=price, cap_per_unit_kzt=cap)
    assert 0 <= limit <= qty * price
    assert cap is None or limit <= qty * cap
    assert line_discount_allowed(discount, qty=qty, unit_price_kzt=price, cap_per_unit_kzt=cap) == (
        discount <= limit
    )


@pytest.mark.parametrize(
    ("qty", "price", "cap"), [("0", 1, None), ("-1", 1, None), ("1", -1, None), ("1", 1, -1)]
)
def test_the_line_discount_limit_refuses_impossible_lines(
    qty: str, price: int, cap: int | None
) -> None:
    """A line without a positive quantity, or with a negative price or cap, is an error."""
    with pytest.raises(ValueError, match="positive|negative"):
        line_discount_limit(qty=Decimal(qty), unit_price_kzt=price, cap_per_unit_kzt=cap)


def test_no_purchase_can_overflow_a_64_bit_sum() -> None:
    """The largest purchase the request model admits (500 lines of 10⁶ units at 10⁹ ₸, each with
    the largest discount) sums below 2⁶³ - 1, the store's money columns' ceiling (issue 12)."""
    line = PurchaseLine(code="salt", qty=Decimal(MAX_QTY), unit_price_kzt=10**9, discount_kzt=10**9)
    largest = Purchase(purchase_id="p", shop_id="s", items=[line] * 500)
    assert largest.goods_kzt < 2**63 - 1
    assert largest.discount_kzt < 2**63 - 1
    with pytest.raises(ValueError, match="at most 1000000"):
        PurchaseLine(code="salt", qty=Decimal(MAX_QTY) + 1, unit_price_kzt=1, discount_kzt=0)
    with pytest.raises(ValueError, match="less than or equal"):
        PurchaseLine(code="salt", qty=Decimal(1), unit_price_kzt=10**9 + 1, discount_kzt=0)


def test_every_good_has_a_cap_and_says_where_it_comes_from() -> None:
    """Each good on the list carries ``max_discount_per_unit_kzt`` with its source; the shipped
    figures are samples (the seeds print none), labelled so."""
    for good in load_reference().food_goods():
        assert good.max_discount_per_unit_kzt is not None, good.code
        assert good.max_discount_source == "sample", good.code
