"""What a voucher is worth (SPEC.md §2 "voucher value", §3 step 7).

Money is whole tenge. Every amount is rounded once, half up (0.5 tenge goes up), the way a
receipt is rounded, never with Python's default banker's rounding.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.programs import VoucherRule
    from models.reference import GasTariff

__all__ = [
    "discount_mismatch",
    "food_voucher_amount",
    "gas_discount",
    "line_discount_allowed",
    "line_discount_limit",
    "to_tenge",
]


def to_tenge(amount: Decimal) -> int:
    """Round ``amount`` half up to whole tenge."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def food_voucher_amount(rule: VoucherRule, *, mrp_kzt: int, family_size: int, region: str) -> int:
    """The monthly value of a family's food vouchers, in tenge.

    Each member's voucher is ``mrp_multiplier`` x the region's ``regional_multiplier`` (1 when
    absent) x the MRP, capped at ``max_multiplier`` x the MRP when a cap is set, rounded half up
    to whole tenge; the family gets one such voucher per member (or one in all when the rule
    is per recipient).

    Raises:
        ValueError: the rule is not ``fixed_mrp``, or ``family_size`` is below 1.
    """
    if rule.kind != "fixed_mrp":
        raise ValueError(f"not a fixed-MRP voucher rule: {rule.kind}")
    if family_size < 1:
        raise ValueError(f"family size must be at least 1, got {family_size}")
    multiplier = Decimal(str(rule.mrp_multiplier)) * Decimal(
        str(rule.regional_multiplier.get(region, 1.0))
    )
    if rule.max_multiplier is not None:
        multiplier = min(multiplier, Decimal(str(rule.max_multiplier)))
    vouchers = family_size if rule.per == "family_member" else 1
    return to_tenge(Decimal(mrp_kzt) * multiplier) * vouchers


def gas_discount(*, volume_m3: Decimal, tariff: GasTariff) -> int:
    """The gas discount: benefit x min(volume, norm), rounded half up to whole tenge.

    ``benefit`` is the group 1 price minus the group 9 price per m³; ``norm`` the region's monthly
    consumption norm.

    Raises:
        ValueError: ``volume_m3`` is negative.
    """
    if volume_m3 < 0:
        raise ValueError(f"negative consumption: {volume_m3}")
    benefit = tariff.price_group1_kzt_per_m3 - tariff.price_group9_kzt_per_m3
    return to_tenge(benefit * min(volume_m3, tariff.norm_m3))


def discount_mismatch(reported: int | None, computed: int) -> bool:
    """Whether the provider's own discount disagrees with the formula's.

    ``None`` (the provider reported none) is no mismatch; any difference in whole tenge is.
    """
    return reported is not None and reported != computed


def line_discount_limit(
    *, qty: Decimal, unit_price_kzt: int, cap_per_unit_kzt: int | None
) -> Decimal:
    """The most a purchase line's discount may be (SPEC.md §7 "Per-good cap"; seed 004 items
    2.1, 2.5, 12): never above the line's value ``qty`` x ``unit_price_kzt``, nor above ``qty`` x
    the good's cap per unit where it has one (``None``: no cap applies).

    Exact, not rounded: a discount in whole tenge is allowed if it does not exceed the limit.

    Raises:
        ValueError: ``qty`` is not positive, or the price or the cap is negative.
    """
    if qty <= 0:
        raise ValueError(f"a purchase line's quantity must be positive, got {qty}")
    if unit_price_kzt < 0 or (cap_per_unit_kzt is not None and cap_per_unit_kzt < 0):
        raise ValueError("a price or a cap cannot be negative")
    value = qty * unit_price_kzt
    return value if cap_per_unit_kzt is None else min(value, qty * cap_per_unit_kzt)


def line_discount_allowed(
    discount_kzt: int, *, qty: Decimal, unit_price_kzt: int, cap_per_unit_kzt: int | None
) -> bool:
    """Whether ``discount_kzt`` (whole tenge, not negative) is within the line's limit
    (:func:`line_discount_limit`)."""
    limit = line_discount_limit(
        qty=qty, unit_price_kzt=unit_price_kzt, cap_per_unit_kzt=cap_per_unit_kzt
    )
    return 0 <= discount_kzt <= limit
