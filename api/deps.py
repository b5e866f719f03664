"""What the API's routes are given: built once per process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from temporalio.client import Client

from api.errors import ApiError
from client.codec import EncryptionCodec
from client.cycles import CycleClient
from models.programs import PROGRAMS, ProgramBook, ProgramVersion
from models.reference import MissingFigure, Reference
from models.settings import Settings
from rules import calendar
from store.engine import Sessions


@dataclass(frozen=True)
class ApiDeps:
    client: Client
    settings: Settings
    sessions: Sessions
    programs: ProgramBook
    reference: Reference
    codec: EncryptionCodec
    cycles: CycleClient


def deps(request: Request) -> ApiDeps:
    """The process's dependencies, for a route."""
    found: ApiDeps = request.app.state.deps
    return found


def program_rules(api: ApiDeps, program: str, month: str) -> ProgramVersion:
    """The program version a request about ``program``'s ``month`` runs under, or the
    contract's refusal: 404 ``unknown_program``, 409 ``list_closed`` outside its period."""
    if program not in PROGRAMS:
        raise ApiError(404, "unknown_program", f"no program {program!r}; known: gas, food")
    try:
        calendar.month_end(month)
        rules = api.programs.for_month(program, month)
    except ValueError:
        rules = None
    if rules is None:
        raise ApiError(409, "list_closed", f"no {program} program version covers {month}")
    return rules


def listing_rules(api: ApiDeps, program: str, month: str) -> ProgramVersion:
    """The version a list for ``program``'s ``month`` runs under, if it can run (SPEC.md §7):
    409 ``program_not_configured`` while a placeholder of its texts has no value (seed 004's
    blank support number), 409 ``reference_data_missing`` without the figure its vouchers are
    worth (the MRP of the month's year; a sample one only where the deployment allows it)."""
    rules = program_rules(api, program, month)
    if not rules.configured:
        raise ApiError(
            409,
            "program_not_configured",
            f"{rules.version} cannot text citizens until the deployment sets "
            f"{', '.join(rules.unset_placeholders())} (PROGRAM_DATA_DIR)",
        )
    if rules.voucher.kind == "fixed_mrp":
        try:
            api.reference.mrp(int(month[:4]), allow_sample=api.settings.allow_sample_figures)
        except MissingFigure as missing:
            raise ApiError(409, "reference_data_missing", str(missing)) from missing
    return rules
