"""What the API's routes are given: built once per process by ``create_app``."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

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
class VoucherKey:
    """What never changes of an issued voucher: the cycle it belongs to, its program and month."""

    voucher_id: str
    cycle_id: str
    program: str
    month: str


class VoucherKeys:
    """The vouchers this process has looked up, kept so that the wallet's next call on one does
    not read the database again (each activation is two calls, a shop's purchases many).

    Only what never changes is kept, and only vouchers found: one issued a moment later is
    looked up again. Bounded: the least recently used go first.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._known: OrderedDict[str, VoucherKey] = OrderedDict()

    def get(self, voucher_id: str) -> VoucherKey | None:
        key = self._known.get(voucher_id)
        if key is not None:
            self._known.move_to_end(voucher_id)
        return key

    def keep(self, key: VoucherKey) -> None:
        self._known[key.voucher_id] = key
        self._known.move_to_end(key.voucher_id)
        if len(self._known) > self._limit:
            self._known.popitem(last=False)


@dataclass(frozen=True)
class ApiDeps:
    client: Client
    settings: Settings
    sessions: Sessions
    programs: ProgramBook
    reference: Reference
    codec: EncryptionCodec
    cycles: CycleClient
    vouchers: VoucherKeys = field(default_factory=VoucherKeys)


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
