"""``make run``'s stack (``python -m devtools.stack``) as a subprocess on free ports, and a cycle
arranged to await consent in real time, for the browser tests."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock
from functools import partial
from pathlib import Path

from temporalio.client import Client

from client.connection import product_client
from client.cycles import CycleClient
from devtools.embedded import with_example_data
from models.cycle import Citizen, CycleInput
from models.programs import PROGRAMS, SendingWindow, load_programs
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


def start_stack(data: Path, *, attempts: int = 3, **env: str) -> Stack:
    """Run the stack until it says it is running (the sample cohort listed); on other ports
    if one of those chosen was taken meanwhile (other tests run alongside)."""
    for attempt in range(attempts):
        try:
            return _start_stack(data / f"attempt-{attempt}", env)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _start_stack(data: Path, extra: dict[str, str], *, timeout: float = 90.0) -> Stack:
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


async def arrange_awaiting_consent(stack: Stack) -> CycleInput:
    """A cycle awaiting consent now, in real time.

    The stack lists its cohort for the earliest month still open, whose send day is ahead in
    real time, so none of its cycles awaits consent yet. A cycle carries its rules in its input:
    this one runs the current month of a program the stack did not list for it, with the send
    day on the 1st and a sending window round the clock, so its consent request goes out at
    once, to a citizen of the stack's cohort (known to its BMG simulator).
    """
    settings = with_example_data(Settings())
    book = load_programs(settings.program_data_dir)
    now = datetime.now(UTC)
    month = calendar.month_of(now)
    for program in PROGRAMS:
        rules = book.for_month(program, month)
        listed = calendar.earliest_open_month(partial(book.for_month, program), now)
        if rules is not None and listed != month:
            break
    else:
        raise LookupError(f"no program has rules for {month} besides the one listed")
    person = sample_cohort(COHORT, 7, program=program)[0]
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
    cycle = cycles.cycle_input(program, month, citizen=citizen, citizen_ref=ref)
    round_the_clock = SendingWindow(opens=clock(0, 0), closes=clock(23, 59, 59))
    arranged = cycle.rules.model_copy(
        update={"send_day": 1, "consent_deadline_day": None, "sending_window": round_the_clock}
    )
    cycle = cycle.model_copy(update={"rules": arranged})
    await cycles.start(cycle)
    return cycle
