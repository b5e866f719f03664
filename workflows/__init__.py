"""Orchestration only: one workflow per business process, no I/O and no clocks."""

from workflows.citizen_cycle import CitizenCycle

WORKFLOWS = [CitizenCycle]

__all__ = ["WORKFLOWS", "CitizenCycle"]
