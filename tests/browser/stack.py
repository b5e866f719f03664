"""``make run``'s stack (``python -m devtools.stack``) as a subprocess on free ports, run with
program data arranged beforehand, and a cycle under those rules awaiting consent in real time,
for the browser tests."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from client.connection import product_client
from client.cycles import CycleClient
from devtools.embedded import deploy_rules, rules_due_now
from models import rulebook
from models.cycle import Citizen, CycleInput, CycleState, cycle_id
from models.programs import PROGRAMS, ProgramVersion, load_programs
from models.reference import load_reference
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort
from simulators.state import SYSTEMS

ROOT = Path(__file__).resolve().parents[2]
COHORT = 3  # citizens per program, as the stack lists them (seed 7)


@dataclass
class Stack:
    process: subprocess.Popen[str]
    temporal: str
    ui_url: str
    api_url: str
    log: Path


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(200):
        base = random.randint(20000, 60000)
        if all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free ports")


def start_stack(data: Path, env: Mapping[str, str], *, attempts: int = 3) -> Stack:
    """Run the stack, ``env`` added to its environment, until it says it is running (the sample
    cohort listed); on other ports if one of those chosen was taken meanwhile (other tests run
    alongside)."""
    for attempt in range(attempts):
        try:
            return _start_stack(data / f"attempt-{attempt}", env)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _start_stack(data: Path, extra: Mapping[str, str], *, timeout: float = 90.0) -> Stack:
    base = free_ports(4 + len(SYSTEMS))
    temporal, ui, api, sims = base, base + 1, base + 2, base + 4
    log = data / "stack.log"
    data.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CODEC_", "OIDC_"))},
        "API_PORT": str(api),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    command = [sys.executable, "-m", "devtools.stack", "--data", str(data / "run")]
    command += ["--cohort", str(COHORT), "--temporal-port", str(temporal)]
    command += ["--ui-port", str(ui), "--sim-base-port", str(sims)]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out, text=True)
    deadline = time.monotonic() + timeout
    while "The product is running." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_stack(process)
            raise RuntimeError(f"the stack did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    return Stack(
        process=process,
        temporal=f"127.0.0.1:{temporal}",
        ui_url=f"http://localhost:{ui}",
        api_url=f"http://localhost:{api}",
        log=log,
    )


def stop_stack(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a person stops ``make run``; then the dev server's own shutdown."""
    process.send_signal(2)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class Arranged:
    """Rules of the current month due now, deployed as the stack's program data."""

    program: str
    month: str
    rules: ProgramVersion
    program_data: Path  # the stack's PROGRAM_DATA_DIR

    @property
    def env(self) -> dict[str, str]:
        """The stack's environment for this program data (the example's sample figures)."""
        return {"PROGRAM_DATA_DIR": str(self.program_data), "ALLOW_SAMPLE_FIGURES": "true"}


def arrange_rules(folder: Path) -> Arranged:
    """A program's current month with rules due now, deployed to ``folder`` for the stack.

    A cycle names its rules by reference and the stack's worker resolves it from the program
    data it loaded at start: the rearranged version must be deployed before the stack starts.
    The stack lists its cohort for each program's earliest month still open, so the program
    chosen is one whose current list is closed (its cut-off day brought before today if need
    be): the arranged cycle is then the only one of its program-month.
    """
    now = datetime.now(calendar.ALMATY)
    due = [rules_due_now(program) for program in PROGRAMS]
    closed = [(m, r) for m, r in due if not calendar.month_open_for_listing(r, m, now)]
    if closed:
        month, rules = closed[0]
    elif now.day > 1:
        month, rules = due[0]
        rules = rules.model_copy(update={"list_cutoff_day": now.day - 1})
    else:
        raise LookupError(f"on {now:%Y-%m-%d} every program's current list is still open")
    return Arranged(
        program=rules.program,
        month=month,
        rules=rules,
        program_data=deploy_rules(folder, rules),
    )


async def arrange_awaiting_consent(stack: Stack, arranged: Arranged) -> CycleInput:
    """A cycle awaiting consent now, in real time.

    The cycle runs ``arranged``'s month, whose send day is today with a sending window round
    the clock, so its consent request goes out at once, to a citizen of the stack's cohort
    (known to its BMG simulator). Its input is built against the program book the stack's
    worker loaded, so the rules it names are the ones that worker holds.
    """
    settings = Settings(program_data_dir=arranged.program_data, allow_sample_figures=True)
    book = load_programs(settings.program_data_dir)
    person = sample_cohort(COHORT, 7, program=arranged.program)[0]
    citizen = Citizen.model_validate({k: v for k, v in person.items() if k != "phone"})
    client = product_client(await Client.connect(stack.temporal), settings)
    cycles = CycleClient(
        client,
        task_queue=settings.task_queue,
        programs=book,
        reference=load_reference(settings.program_data_dir),
        send_spread=settings.send_spread,
    )
    ref = citizen_ref(settings.pseudonym_key, citizen.iin)
    cycle = cycles.cycle_input(arranged.program, arranged.month, citizen=citizen, citizen_ref=ref)
    if cycle.rules_ref != rulebook.rules_ref(arranged.rules):
        raise AssertionError(f"the deployed book gives {cycle.rules_ref}, not the arranged rules")
    if not await cycles.start(cycle):
        raise AssertionError(f"the stack already runs a cycle of {arranged.month} for {ref}")
    await _until_awaiting_consent(cycles, cycle_id(cycle.program, cycle.month, ref))
    return cycle


async def _until_awaiting_consent(cycles: CycleClient, cycle: str, *, seconds: float = 30) -> None:
    """Wait for the consent request to go out: the tests then read a cycle awaiting consent,
    and a worker lacking the arranged rules fails here, named, not as a blank page."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            state: str = (await cycles.status(cycle)).state
        except (RPCError, WorkflowQueryFailedError) as error:  # its first task not done yet
            state = f"unqueryable ({error})"
        if state == CycleState.AWAITING_CONSENT:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{cycle} is still {state} after {seconds:.0f} s")
        await asyncio.sleep(0.3)
