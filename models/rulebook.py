"""Program versions by reference: a cycle's input names its rules, the worker holds them.

A cycle lives a month and its history is replayed on every cache miss, a million cycles a month:
the whole version in every cycle's input (4 KB with its ``sources``) would be 4 GB of history a
month. The input carries a :data:`RulesRef` instead, the version's name and the hash of its
content (``gas-2025-07@3f9c0a…``), and the worker resolves it from the program book it loaded at
start (:func:`install`).

The hash makes the reference immutable: a version whose content changed after cycles started is
another version, and a worker that lacks a cycle's exact rules fails the cycle's workflow task
(:class:`UnknownRules`; Temporal retries it and the Web UI shows why) instead of running other
rules. Deploy the book before the cycles that need it; keep old versions while cycles run on them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Annotated

from pydantic import StringConstraints

from models.programs import ProgramVersion

RulesRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}@[0-9a-f]{16}$")]

# Every version this process has installed, by reference; the workflow sandbox passes this module
# through, so the cycles of this process read the same table.
_INSTALLED: dict[str, ProgramVersion] = {}
# The references of versions this process has computed, by object (a version is immutable; the
# version is kept with its reference so that its id is never reused for another object).
_KNOWN: dict[int, tuple[ProgramVersion, str]] = {}


class UnknownRules(RuntimeError):
    """A cycle names rules this worker does not hold: it must not run on any others.

    Not an ``ApplicationError``: raised in a workflow it fails the workflow task, which Temporal
    retries, so the cycle goes on once a worker with the right program book takes it.
    """


def rules_ref(version: ProgramVersion) -> str:
    """``version``'s reference: its name and the hash of its content."""
    known = _KNOWN.get(id(version))
    if known is not None and known[0] is version:
        return known[1]
    # Defaults are left out: a field added later, with a default that keeps today's behaviour,
    # does not make every running cycle's rules another version.
    fields = version.model_dump(mode="json", exclude_defaults=True)
    content = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    ref = f"{version.version}@{hashlib.sha256(content.encode()).hexdigest()[:16]}"
    _KNOWN[id(version)] = (version, ref)
    return ref


def install(versions: Iterable[ProgramVersion]) -> None:
    """Make ``versions`` resolvable by this process's cycles (the worker's program book)."""
    for version in versions:
        _INSTALLED[rules_ref(version)] = version


def resolve(ref: str) -> ProgramVersion:
    """The installed version ``ref`` names.

    Raises:
        UnknownRules: this process has no version of that name and content.
    """
    version = _INSTALLED.get(ref)
    if version is None:
        raise UnknownRules(
            f"this worker has no program version {ref}: deploy the program data the cycle "
            "was listed with (PROGRAM_DATA_DIR)"
        )
    return version
