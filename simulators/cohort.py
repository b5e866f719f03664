"""Deterministic sample citizens and gas accounts for demos and tests, and seeding a `World`."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from simulators.iin import make_iin
from simulators.state import Account, World

GAS_REGIONS = (
    "AST", "ALA", "SHY", "AKM", "AKT", "ALM", "ATY", "VOS", "ZHA",
    "ZHE", "ZAP", "KAR", "KUS", "KZY", "MAN", "YUZ", "ULY",
)  # fmt: skip
FOOD_LOCALITIES = (("KOKSHETAU", "AKM"), ("AKKOL", "AKM"), ("PAVLODAR", "PAV"))
# Operator codes that libphonenumber classes as Kazakhstan mobiles (750/751 are not).
MOBILE_CODES = (
    "700", "701", "702", "705", "706", "707", "708", "747",
    "760", "761", "762", "763", "764", "771", "775", "776", "777", "778",
)  # fmt: skip
_SURNAMES = ("Ахметов", "Сейтқали", "Иванов", "Жумабаев", "Нурланов", "Ким", "Абенов")
_NAMES = ("Айгерім", "Ерлан", "Мария", "Дәулет", "Асель", "Нурлан", "Сергей", "Жанар")
_STREETS = ("Абая", "Кенесары", "Сейфуллина", "Республики", "Толе би", "Момышулы")


def sample_cohort(n: int, seed: int = 7, *, program: str = "gas") -> list[dict[str, Any]]:
    """`n` distinct citizens as an SDU list entry plus their `phone`, the same for one seed.

    Each has `iin` (valid check digit), `phone` (`+77…`), `region`, `lang`, `family_size`
    and `assistance`; food citizens also have a pilot `locality` and receive TSA only.
    """
    if program not in ("gas", "food"):
        raise ValueError(f"unknown program {program!r}")
    rng = random.Random(f"{program}:{seed}")
    cohort: list[dict[str, Any]] = []
    iins: set[str] = set()
    phones: set[str] = set()
    while len(cohort) < n:
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(56 * 365))
        iin = make_iin(birth, female=rng.random() < 0.5, serial=rng.randrange(10_000))
        phone = f"+7{rng.choice(MOBILE_CODES)}{rng.randrange(10_000_000):07d}"
        if iin is None or iin in iins or phone in phones:
            continue
        iins.add(iin)
        phones.add(phone)
        citizen: dict[str, Any] = {"iin": iin, "phone": phone}
        if program == "gas":
            citizen["region"] = rng.choice(GAS_REGIONS)
            citizen["assistance"] = rng.choice((["TSA"], ["TSA", "HOUSING"]))
        else:
            citizen["locality"], citizen["region"] = rng.choice(FOOD_LOCALITIES)
            citizen["assistance"] = ["TSA"]
        citizen["lang"] = "kk" if rng.random() < 0.4 else "ru"
        citizen["family_size"] = rng.randint(1, 7)
        cohort.append(citizen)
    return cohort


def sample_accounts(n: int, seed: int = 7) -> list[Account]:
    """`n` gas personal accounts with 10-digit numbers, spread over the gas regions."""
    rng = random.Random(f"accounts:{seed}")
    numbers = rng.sample(range(1_000_000_000, 10_000_000_000), n)
    return [
        Account(
            account_number=str(number),
            holder=f"{rng.choice(_SURNAMES)} {rng.choice(_NAMES)}",
            address=f"ул. {rng.choice(_STREETS)}, д. {rng.randint(1, 150)}, "
            f"кв. {rng.randint(1, 200)}",
            region=GAS_REGIONS[i % len(GAS_REGIONS)],
        )
        for i, number in enumerate(numbers)
    ]


def seed_world(
    world: World,
    cohort: list[dict[str, Any]],
    *,
    without_phone_every: int = 10,
    accounts: int = 10,
    seed: int = 7,
) -> list[str]:
    """Register the cohort's phones in BMG and open sample gas accounts.

    Every `without_phone_every`-th citizen (the 10th, 20th, ...) is left out of BMG; 0 leaves
    nobody out. Returns the IINs left without a number, whose cycles should end `NO_PHONE`.
    """
    missing: list[str] = []
    for position, citizen in enumerate(cohort, start=1):
        if without_phone_every and position % without_phone_every == 0:
            missing.append(citizen["iin"])
        else:
            world.subscribers[citizen["iin"]] = citizen["phone"]
    for account in sample_accounts(accounts, seed):
        world.accounts[account.account_number] = account
    return missing
