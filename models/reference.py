"""Reference data of SPEC.md §5: regions, gas tariffs and norms, the MRP, the food goods list.

Loaded from the JSON files in ``models/data`` (and a deployment's ``PROGRAM_DATA_DIR``) and
validated here. Every figure says where it comes from (:data:`Provenance`: ``law: …``,
``resolution …``, ``order …``, ``sample: …``). The gas figures shipped are samples: the seeds cite
the akimats' resolutions but not their figures. Money is never computed from a missing figure,
and from a sample one only where the deployment allows it (``ALLOW_SAMPLE_FIGURES``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.program_data import ProgramDataError, field_of, read_json, unknown_files

# Where a figure comes from: the kind of text first, then which one (or why it is a sample).
Provenance = Annotated[str, Field(pattern=r"^(law|resolution|order|sample)\b.*", min_length=3)]
_log = logging.getLogger(__name__)


def is_sample(source: str) -> bool:
    """Whether a figure's provenance says it is a placeholder, not a published figure."""
    return source.startswith("sample")


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
    price_source: Provenance
    norm_source: Provenance

    @model_validator(mode="after")
    def _benefit_not_negative(self) -> GasTariff:
        if self.price_group9_kzt_per_m3 > self.price_group1_kzt_per_m3:
            raise ValueError(f"{self.region}: group 9 price above group 1 price")
        return self

    @property
    def benefit_kzt_per_m3(self) -> Decimal:
        """The benefit: group 1 price minus group 9 price."""
        return self.price_group1_kzt_per_m3 - self.price_group9_kzt_per_m3

    @property
    def sample(self) -> bool:
        """Whether a price or the norm is a sample figure."""
        return is_sample(self.price_source) or is_sample(self.norm_source)


class MrpFigure(_Frozen):
    """The monthly calculation index of a year, in tenge, and the law that sets it."""

    year: int = Field(ge=2000, le=2100)
    kzt: int = Field(gt=0)
    source: Provenance


class TariffAnswer(_Frozen):
    """A region's tariff for a month, and whether a discount may be settled from it."""

    tariff: GasTariff | None
    problem: Literal["missing", "sample"] | None = None


class MissingFigure(LookupError):
    """A figure money would be computed from is missing (or only a sample, not allowed)."""

    def __init__(self, figure: str, detail: str) -> None:
        super().__init__(f"{figure}: {detail}")
        self.figure = figure


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
    mrp_by_year: dict[int, MrpFigure]
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
        if len({g.code for g in self.goods}) != len(self.goods):
            raise ValueError("duplicate food goods codes")
        return self

    def gas_tariff(self, region: str, on: date) -> GasTariff | None:
        """The tariff of ``region`` in force on ``on``: the latest one effective by then."""
        in_force = [t for t in self.gas_tariffs if t.region == region and t.effective_from <= on]
        return max(in_force, key=lambda t: t.effective_from, default=None)

    def settleable_tariff(self, region: str, on: date, *, allow_sample: bool) -> TariffAnswer:
        """The tariff a discount may be settled from: ``missing`` without one, ``sample`` when
        a figure of it is a sample the deployment does not allow (SPEC.md §7)."""
        tariff = self.gas_tariff(region, on)
        if tariff is None:
            return TariffAnswer(tariff=None, problem="missing")
        if tariff.sample and not allow_sample:
            return TariffAnswer(tariff=tariff, problem="sample")
        return TariffAnswer(tariff=tariff)

    def mrp(self, year: int, *, allow_sample: bool = True) -> int:
        """The MRP of ``year`` in tenge, as the year's budget law sets it.

        Never another year's figure: the next budget law may not be published yet, and a
        voucher paid at last year's MRP would be a guess.

        Raises:
            MissingFigure: no figure for ``year``, or only a sample one and ``allow_sample`` is
                false.
        """
        figure = self.mrp_by_year.get(year)
        if figure is None:
            raise MissingFigure(f"MRP {year}", "no figure loaded (the budget law's, in mrp.json)")
        if is_sample(figure.source) and not allow_sample:
            raise MissingFigure(f"MRP {year}", "only a sample figure is loaded")
        return figure.kzt

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
def load_reference(data_dir: Path | None = None) -> Reference:
    """The reference data shipped in ``models/data``, with a deployment's figures from
    ``data_dir`` (``PROGRAM_DATA_DIR``) when given; read once per process and folder.

    A deployment's figure may add a year or a tariff row, or replace a ``sample`` one; one that
    differs from a published (not sample) figure is refused.

    Raises:
        ProgramDataError: a deployment's file is unreadable, invalid or contradicts a published
            figure; the error names the file and the field.
    """
    return read_reference(data_dir)


def read_reference(data_dir: Path | None = None) -> Reference:
    """:func:`load_reference` without the cache: the files as they are now."""
    regions = _read("regions.json")
    tariffs = {
        (t.region, t.effective_from): t
        for t in (GasTariff.model_validate(raw) for raw in _read("gas_tariffs.json")["tariffs"])
    }
    mrp = {m.year: m for m in (MrpFigure.model_validate(raw) for raw in _read("mrp.json")["mrp"])}
    if data_dir is not None:
        unknown = unknown_files(Path(data_dir))
        if unknown:
            raise ProgramDataError(
                unknown[0],
                "",
                "not a file the product reads (programs/*.json, mrp.json, gas_tariffs.json)",
            )
        _add_mrp(Path(data_dir) / "mrp.json", mrp)
        _add_tariffs(Path(data_dir) / "gas_tariffs.json", tariffs)
    return Reference(
        regions={r["code"]: Region.model_validate(r) for r in regions["regions"]},
        localities={loc["code"]: Locality.model_validate(loc) for loc in regions["localities"]},
        gas_tariffs=tuple(tariffs.values()),
        mrp_by_year=mrp,
        goods=tuple(FoodGood.model_validate(g) for g in _read("food_goods.json")["goods"]),
    )


def _entries(file: Path, key: str) -> list[Any]:
    raw = read_json(file)
    entries = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ProgramDataError(file, key, f'expected {{"{key}": [...]}}')
    return entries


def _add_mrp(file: Path, mrp: dict[int, MrpFigure]) -> None:
    if not file.exists():
        return
    for number, raw in enumerate(_entries(file, "mrp")):
        try:
            figure = MrpFigure.model_validate(raw)
        except ValidationError as invalid:
            raise ProgramDataError(
                file, field_of(invalid, f"mrp[{number}]"), str(invalid)
            ) from None
        known = mrp.get(figure.year)
        if known is not None and not is_sample(known.source) and known.kzt != figure.kzt:
            raise ProgramDataError(
                file,
                f"mrp[{number}].kzt",
                f"{figure.kzt} contradicts the published MRP {figure.year}: {known.kzt} "
                f"({known.source})",
            )
        mrp[figure.year] = figure


def _add_tariffs(file: Path, tariffs: dict[tuple[str, date], GasTariff]) -> None:
    if not file.exists():
        return
    for number, raw in enumerate(_entries(file, "tariffs")):
        try:
            tariff = GasTariff.model_validate(raw)
        except ValidationError as invalid:
            raise ProgramDataError(
                file, field_of(invalid, f"tariffs[{number}]"), str(invalid)
            ) from None
        known = tariffs.get((tariff.region, tariff.effective_from))
        if known is not None and not known.sample and known != tariff:
            raise ProgramDataError(
                file,
                f"tariffs[{number}]",
                f"contradicts the published tariff of {tariff.region} from {tariff.effective_from}",
            )
        tariffs[(tariff.region, tariff.effective_from)] = tariff


@dataclass
class ReferenceSource:
    """The reference figures as a deployment's folder holds them now: re-read when a file in
    ``PROGRAM_DATA_DIR`` changes, so real tariffs dropped there reach the cycles waiting for
    them (``Attention=tariff_missing``) without a restart. A folder that no longer reads keeps
    the figures last read, and says so in the log."""

    data_dir: Path | None
    _stamp: tuple[tuple[str, int, int], ...] | None = None
    _current: Reference | None = field(default=None, repr=False)

    def current(self) -> Reference:
        """The figures in force; re-read if the folder changed since the last call."""
        stamp = self._stamp_now()
        if self._current is None or stamp != self._stamp:
            try:
                self._current = read_reference(self.data_dir)
            except ProgramDataError:
                if self._current is None:
                    raise
                _log.exception("PROGRAM_DATA_DIR no longer reads: keeping the figures last read")
            self._stamp = stamp
        return self._current

    def _stamp_now(self) -> tuple[tuple[str, int, int], ...]:
        if self.data_dir is None or not self.data_dir.is_dir():
            return ()
        return tuple(sorted(_file_stamp(p) for p in self.data_dir.rglob("*") if p.is_file()))


def _file_stamp(path: Path) -> tuple[str, int, int]:
    """What changes when a file is rewritten: its modification time and its size."""
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size
