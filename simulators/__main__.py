"""`python -m simulators`: serve all six simulators on fixed ports over a seeded demo world.

Environment: `SMS_GATEWAY_TOKEN`, `SMS_WEBHOOK_SECRET`, and `WEBHOOK_URL` (the product's
`/v1/sms/inbound`, default http://127.0.0.1:8000/v1/sms/inbound).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from simulators.cohort import sample_cohort, seed_world
from simulators.servers import run_simulators
from simulators.state import SYSTEMS, World

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/v1/sms/inbound"


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulators", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--base-port",
        type=int,
        default=8101,
        help="BMG, SDU, SMS gateway, wallet, gas provider, food reporting on consecutive ports",
    )
    parser.add_argument("--cohort", type=int, default=100, help="citizens per program to seed")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


async def _serve(args: argparse.Namespace) -> None:
    world = World()
    gas = sample_cohort(args.cohort, args.seed, program="gas")
    food = sample_cohort(args.cohort, args.seed, program="food")
    # Seeded per program, so "every 10th citizen" counts within each program's list.
    no_phone = seed_world(world, gas, accounts=max(10, args.cohort // 2), seed=args.seed)
    no_phone += seed_world(world, food, accounts=0)
    ports = {name: args.base_port + offset for offset, name in enumerate(SYSTEMS)}
    async with run_simulators(
        world,
        sms_token=os.environ.get("SMS_GATEWAY_TOKEN", "dev-sms-token"),
        webhook_url=os.environ.get("WEBHOOK_URL", DEFAULT_WEBHOOK_URL),
        webhook_secret=os.environ.get("SMS_WEBHOOK_SECRET", "dev-webhook-secret"),
        host=args.host,
        ports=ports,
    ) as urls:
        for name, url in urls.as_env().items():
            print(f"{name}={url}")
        print(
            f"# seeded {len(world.subscribers)} BMG numbers ({len(no_phone)} citizens without), "
            f"{len(world.accounts)} gas accounts; replies go to {world.webhook_url}",
            flush=True,
        )
        stop = asyncio.Event()
        # SIGTERM (docker stop, kill) shuts down as cleanly as Ctrl-C, which cancels this task.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()


def main() -> None:
    """Parse the command line and serve until interrupted."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(_parse_args()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
