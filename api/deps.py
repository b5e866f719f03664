"""What the API's routes are given: built once per process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from temporalio.client import Client

from models.codec import EncryptionCodec
from models.db import Sessions
from models.programs import ProgramBook
from models.reference import Reference
from models.settings import Settings


@dataclass(frozen=True)
class ApiDeps:
    client: Client
    settings: Settings
    sessions: Sessions
    programs: ProgramBook
    reference: Reference
    tokens: dict[str, str]
    codec: EncryptionCodec


def deps(request: Request) -> ApiDeps:
    """The process's dependencies, for a route."""
    found: ApiDeps = request.app.state.deps
    return found
