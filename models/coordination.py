"""Inputs of the program-month coordinators (list intake, gas hand-over)."""

from __future__ import annotations

from pydantic import BaseModel

from models.programs import ProgramVersion


class HandoverInput(BaseModel):
    """The gas month whose activated vouchers go to the provider on the hand-over day."""

    month: str
    rules: ProgramVersion
