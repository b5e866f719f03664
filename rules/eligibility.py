"""Whether a person SDU lists may enter a program's month (SPEC.md §3 step 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.reference import Reference, load_reference
from rules.iin import is_valid_iin

if TYPE_CHECKING:
    from models.programs import ProgramVersion

__all__ = ["MAX_FAMILY_SIZE", "listing_problem"]

MAX_FAMILY_SIZE = 30


def listing_problem(
    rules: ProgramVersion,
    *,
    iin: str,
    region: str,
    locality: str | None,
    family_size: int,
    assistance: list[str],
    reference: Reference | None = None,
) -> str | None:
    """Why a listed person is refused, or ``None`` when they may enter.

    Checks run in this order and the first failure is returned: ``invalid_iin``,
    ``unknown_region`` (not a region code), ``region_not_in_program``, ``locality_required``
    (the program's territory is towns and none was given), ``locality_not_in_program`` (not one
    of the program's towns, or not a town of ``region``), ``invalid_family_size`` (outside
    1..30), ``not_eligible_assistance`` (no assistance kind the program serves).

    Args:
        rules: The program version in force for the month.
        iin: The person's IIN.
        region: Region code of residence.
        locality: Locality code of residence (required where the territory is towns).
        family_size: Members of the family, the person included.
        assistance: Kinds of assistance received (``"TSA"``, ``"HOUSING"``).
        reference: Reference data; the shipped data when omitted.
    """
    ref = reference if reference is not None else load_reference()
    if not is_valid_iin(iin):
        return "invalid_iin"
    if region not in ref.regions:
        return "unknown_region"
    if region not in rules.territory.regions:
        return "region_not_in_program"
    towns = rules.territory.localities
    if towns is not None:
        if not locality:
            return "locality_required"
        known = ref.localities.get(locality)
        if locality not in towns or known is None or known.region != region:
            return "locality_not_in_program"
    if not 1 <= family_size <= MAX_FAMILY_SIZE:
        return "invalid_family_size"
    if not any(kind in rules.eligible_assistance for kind in assistance):
        return "not_eligible_assistance"
    return None
