"""A throwaway PostgreSQL cluster for the tests and the benchmarks, from the server binaries
installed on the machine.

CI installs PostgreSQL (Debian's ``postgresql`` package puts the binaries in
``/usr/lib/postgresql/<version>/bin``, off the PATH); where there is none, the tests are skipped
and the benchmarks' PostgreSQL column says why.
``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from simulators.embedded import free_ports


@dataclass(frozen=True)
class Cluster:
    """A running server on loopback that trusts the ``postgres`` user."""

    port: int
    # Runs ``pg_ctl <action>`` on the cluster: "stop" and "start" make a database outage.
    control: Callable[[str], None] = field(repr=False, default=lambda action: None)

    def stop(self) -> None:
        """Shut the server down at once: every connection drops, new ones are refused."""
        self.control("stop")

    def start(self) -> None:
        """Start the server again on the same port, with its data."""
        self.control("start")

    async def create_database(self) -> str:
        """A new, empty database; its SQLAlchemy URL with the async driver."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        server = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}"
        # CREATE DATABASE cannot run inside a transaction.
        engine = create_async_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()
        return f"{server}/{name}"


def server_binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on the PATH, or Debian's newest version."""
    found = shutil.which("initdb")
    if found is not None:
        return Path(found).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name.split(".")[0]),
    )
    return Path(versions[-1]).parent if versions else None


def unavailable() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if server_binaries() is None:
        return "PostgreSQL server binaries (initdb) not found; apt-get install postgresql"
    if os.geteuid() == 0:
        if _runuser() is None:
            return "running as root without runuser to run initdb as the 'postgres' user"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user for initdb to run as"
    return None


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Initialise a cluster in a fresh folder, start it on a free port, remove it afterwards."""
    binaries = server_binaries()
    assert binaries is not None, unavailable()
    # Not pytest's tmp_path: as root that lies in a folder only root may enter.
    folder = Path(tempfile.mkdtemp(prefix="pg-throwaway-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_owner = [str(_runuser()), "-u", "postgres", "--"]
    data = folder / "data"

    def run(*command: str | Path) -> None:
        done = subprocess.run(
            [*as_owner, *map(str, command)],
            capture_output=True,
            text=True,
            cwd=folder,  # the owner may not be allowed into the current directory
            env={**os.environ, "LC_ALL": "C"},  # whatever locales the machine has or lacks
        )
        if done.returncode != 0:
            log = folder / "server.log"
            raise RuntimeError(
                f"{command[0]} failed ({done.returncode}): {done.stdout}{done.stderr}"
                + (log.read_text() if log.exists() else "")
            )

    try:
        run(binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        (port,) = free_ports()
        options = (
            f"-k {folder} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        log = folder / "server.log"

        def control(action: str) -> None:
            if action == "start":
                run(binaries / "pg_ctl", "start", "-w", "-D", data, "-l", log, "-o", options)
            else:
                run(binaries / "pg_ctl", "stop", "-w", "-D", data, "-m", "immediate")

        control("start")
        try:
            yield Cluster(port=port, control=control)
        finally:
            with contextlib.suppress(RuntimeError):  # a test may have left it stopped
                control("stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _runuser() -> str | None:
    # In /usr/sbin, which a non-login root shell may not have on its PATH.
    return shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
