"""Reference data the cycles read at a moment of their choosing (tariffs in force)."""

from __future__ import annotations

from temporalio import activity

from models.calls import TariffQuery
from models.reference import ReferenceSource, TariffAnswer


class ReferenceData:
    """Activities reading the reference figures: the shipped ones and the deployment's
    (``PROGRAM_DATA_DIR``), as the folder holds them at the moment of the call.

    Args:
        source: The figures, re-read when the deployment's folder changes.
        allow_sample: Whether money may be computed from ``sample`` figures
            (``ALLOW_SAMPLE_FIGURES``).
    """

    def __init__(self, source: ReferenceSource, *, allow_sample: bool) -> None:
        self._source = source
        self._allow_sample = allow_sample

    @activity.defn(name="reference.gas_tariff")
    async def gas_tariff(self, query: TariffQuery) -> TariffAnswer:
        """The region's gas prices and norm in force on a day, and whether a discount may be
        settled from them (``missing``: none; ``sample``: a sample figure, not allowed)."""
        return self._source.current().settleable_tariff(
            query.region, query.on, allow_sample=self._allow_sample
        )
