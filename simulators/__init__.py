"""Simulators of the outside systems the product calls (CONTRACTS.md §2), for tests and demos.

Each system is a FastAPI app over one shared `World`; `run_simulators` serves all six on
loopback inside the current event loop.
"""

from simulators.cohort import sample_accounts, sample_cohort, seed_world
from simulators.embedded import serve, serve_all
from simulators.iin import is_valid_iin
from simulators.servers import SimulatorURLs, run_simulators
from simulators.signing import sign
from simulators.state import Account, Fault, SentSms, World
from simulators.webhook import Delivery, send_reply

__all__ = [
    "Account",
    "Delivery",
    "Fault",
    "SentSms",
    "SimulatorURLs",
    "World",
    "is_valid_iin",
    "run_simulators",
    "sample_accounts",
    "sample_cohort",
    "seed_world",
    "send_reply",
    "serve",
    "serve_all",
    "sign",
]
