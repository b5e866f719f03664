"""Reference data the cycles read at a moment of their choosing (tariffs in force)."""

from __future__ import annotations

from temporalio import activity

from models.calls import TariffQuery
from models.reference import GasTariff, Reference


class ReferenceData:
    """Activities reading the reference data the project ships (``models/data``)."""

    def __init__(self, reference: Reference) -> None:
        self._reference = reference

    @activity.defn(name="reference.gas_tariff")
    async def gas_tariff(self, query: TariffQuery) -> GasTariff | None:
        """The region's gas prices and consumption norm in force on a day."""
        return self._reference.gas_tariff(query.region, query.on)
