"""Orchestration only: one workflow per business process, no I/O and no clocks."""

from workflows.citizen_cycle import CitizenCycle
from workflows.food_daily_report import FoodDailyReport
from workflows.gas_handover import GasHandover
from workflows.month_intake import MonthIntake

WORKFLOWS = [CitizenCycle, FoodDailyReport, GasHandover, MonthIntake]

__all__ = ["WORKFLOWS", "CitizenCycle", "FoodDailyReport", "GasHandover", "MonthIntake"]
