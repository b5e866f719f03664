"""Reference data of SPEC.md §5: regions, gas tariffs and norms, the MRP, the food goods list.

Loaded from the JSON files in ``models/data`` and validated here. The gas figures shipped are
labelled samples (``sample``): the seeds cite the akimats' resolutions but not their figures.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Names(_Frozen):
    """A name in each language the product speaks."""

    ru: str
    kk: str
    en: str


class Region(_Frozen):
    """A region or city of republican significance, by its CONTRACTS.md code."""

    code: str
    name: Names


class Locality(_Frozen):
    """A town inside a region (the food pilot's territories are towns)."""

    code: str
    region: str
    name: Names


class GasTariff(_Frozen):
    """Gas prices (KZT per m³) and the monthly consumption norm of a region, from a date on."""

    region: str
    effective_from: date
    price_group1_kzt_per_m3: Decimal = Field(gt=0)
    price_group9_kzt_per_m3: Decimal = Field(ge=0)
    norm_m3: Decimal = Field(gt=0)
    sample: bool = False

    @model_validator(mode="after")
    def _benefit_not_negative(self) -> GasTariff:
        if self.price_group9_kzt_per_m3 > self.price_group1_kzt_per_m3:
            raise ValueError(f"{self.region}: group 9 price above group 1 price")
        return self

    @property
    def benefit_kzt_per_m3(self) -> Decimal:
        """The benefit: group 1 price minus group 9 price."""
        return self.price_group1_kzt_per_m3 - self.price_group9_kzt_per_m3


class FoodGood(_Frozen):
    """One socially significant food good, and the most a voucher may take off each unit.

    ``max_discount_per_unit_kzt`` is the good's cap (SPEC.md §7 "Per-good cap", seed 004 items
    2.1, 2.5, 12: the maximum trade markup); ``None`` where none applies. ``max_discount_source``
    says where the figure comes from (``sample`` where the seeds give none).
    """

    code: str
    name: str
    unit: str
    max_discount_per_unit_kzt: int | None = Field(default=None, ge=0, le=10**9)
    max_discount_source: str | None = None

    @model_validator(mode="after")
    def _cap_has_a_source(self) -> FoodGood:
        if self.max_discount_per_unit_kzt is not None and not self.max_discount_source:
            raise ValueError(f"{self.code}: max_discount_per_unit_kzt without its source")
        return self


class Reference(_Frozen):
    """Every reference table, indexed for look-ups."""

    regions: dict[str, Region]
    localities: dict[str, Locality]
    gas_tariffs: tuple[GasTariff, ...]
    mrp_by_year: dict[int, int]
    goods: tuple[FoodGood, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Reference:
        for locality in self.localities.values():
            if locality.region not in self.regions:
                raise ValueError(f"{locality.code}: unknown region {locality.region}")
        seen: set[tuple[str, date]] = set()
        for tariff in self.gas_tariffs:
            key = (tariff.region, tariff.effective_from)
            if tariff.region not in self.regions or key in seen:
                raise ValueError(f"gas tariff {key}: unknown region or duplicate date")
            seen.add(key)
        if not self.mrp_by_year or len({g.code for g in self.goods}) != len(self.goods):
            raise ValueError("no MRP figure, or duplicate food goods codes")
        return self

    def gas_tariff(self, region: str, on: date) -> GasTariff | None:
        """The tariff of ``region`` in force on ``on``: the latest one effective by then."""
        in_force = [t for t in self.gas_tariffs if t.region == region and t.effective_from <= on]
        return max(in_force, key=lambda t: t.effective_from, default=None)

    def mrp(self, year: int) -> int:
        """The MRP of ``year`` in tenge.

        A year after the last known figure gets the latest known one (the next budget law may not
        be published yet); a year before the first known figure is an error.

        Raises:
            LookupError: ``year`` is before the first year with a figure.
        """
        known = [y for y in self.mrp_by_year if y <= year]
        if not known:
            raise LookupError(f"no MRP figure for {year} or earlier")
        return self.mrp_by_year[max(known)]

    def food_goods(self) -> list[FoodGood]:
        """The socially significant food goods, in the list's order."""
        return list(self.goods)

    def is_food_good(self, code: str) -> bool:
        """Whether ``code`` is a socially significant food good."""
        return self.food_good(code) is not None

    def food_good(self, code: str) -> FoodGood | None:
        """The socially significant food good ``code``, if it is one."""
        return next((good for good in self.goods if good.code == code), None)


def _read(name: str) -> Any:
    folder = resources.files("models") / "data"
    return json.loads((folder / name).read_text(encoding="utf-8"))


@cache
def load_reference() -> Reference:
    """Load and validate the reference data shipped in ``models/data`` (once per process)."""
    regions, tariffs = _read("regions.json"), _read("gas_tariffs.json")
    return Reference(
        regions={r["code"]: Region.model_validate(r) for r in regions["regions"]},
        localities={loc["code"]: Locality.model_validate(loc) for loc in regions["localities"]},
        gas_tariffs=tuple(GasTariff.model_validate(t) for t in tariffs["tariffs"]),
        mrp_by_year={int(m["year"]): int(m["kzt"]) for m in _read("mrp.json")["mrp"]},
        goods=tuple(FoodGood.model_validate(g) for g in _read("food_goods.json")["goods"]),
    )
