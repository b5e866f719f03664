"""Every workflow the product's worker runs (and its replay tests replay)."""

from workflows.citizen_cycle import CitizenCycle
from workflows.food_daily_report import FoodDailyReport
from workflows.gas_handover import GasHandover
from workflows.month_intake import MonthIntake

WORKFLOWS = [CitizenCycle, FoodDailyReport, GasHandover, MonthIntake]
