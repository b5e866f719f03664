"""Property-based fuzzing of the HTTP API (CONTRACTS.md §1): whatever arrives, the answer is
never a 5xx, every refusal has the one error shape, and a refused request changes nothing: no
row of the database (compared before and after each refusal) and no cycle.

Every test runs on SQLite and on PostgreSQL (a throwaway server, as in
``devtools/postgres.py``; skipped where its binaries are missing), so that what only the
real database refuses (NUL characters, integer ranges) is reached too.

Hypothesis only draws the inputs here (``_examples``), deterministically; a sync ``@given``
cannot await the product, so each test sends the drawn values itself and reports the first one
that breaks a property, as it was sent (nothing is shrunk). ``FUZZ_EXAMPLES`` sets how many
requests each route gets per test and database (60 by default, for CI's time); e.g.
``FUZZ_EXAMPLES=1000`` gives every route over 2,000 across the two databases.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import SQLModel
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.cycle import Citizen, CycleState, CycleStatus
from models.programs import ProgramVersion
from models.reference import load_reference
from rules import calendar
from rules.phones import normalise_phone
from store import tables  # noqa: F401  (every table of the metadata compared)
from store.engine import create_engine
from tests.harness import Product, run_product

T = TypeVar("T")
# Requests per route, per test and database.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
# A long run (FUZZ_EXAMPLES=1000) needs more than the suite's 120 s a test: about 0.6 s a request.
pytestmark = pytest.mark.timeout(max(120, EXAMPLES * 2))
MISSING = object()  # a field left out of a near-valid body
REFERENCE = load_reference(EXAMPLE_PROGRAM_DATA)
GOODS = [good.code for good in REFERENCE.food_goods()]
REGIONS = sorted(REFERENCE.regions)
STAMP = "2026-01-05T10:00:00+05:00"


def _examples(strategy: st.SearchStrategy[T], share: float = 1.0) -> list[T]:
    """``share`` of a route's ``EXAMPLES`` values of ``strategy``, the same ones on every run."""
    found: list[T] = []
    count = max(1, round(EXAMPLES * share))

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    collect()
    return found


# --- the product on each database ----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def product(
    env: WorkflowEnvironment, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Product]:
    """The product (as ``tests/conftest.py`` builds it) on SQLite, then on PostgreSQL."""
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'product.db'}"
    else:
        database_url = await request.getfixturevalue("cluster").create_database()
    plain = await Client.connect(
        env.client.service_client.config.target_host, namespace=env.client.namespace
    )
    async with run_product(
        env, plain, database_url=database_url, task_queue=f"cycles-{uuid.uuid4().hex[:8]}"
    ) as running:
        yield running


class Database:
    """Every row of the product's database, to tell that a refused request changed none.

    A request that succeeds may go on writing after its answer (a cycle records what the
    update did): the next comparison starts once the database has settled.
    """

    def __init__(self, product: Product) -> None:
        self._engine = create_engine(product.settings.database_url)
        self._rows: list[tuple[str, list[Any]]] | None = None

    async def rows(self) -> list[tuple[str, list[Any]]]:
        found = []
        async with self._engine.connect() as connection:
            for table in SQLModel.metadata.sorted_tables:
                result = await connection.execute(select(table))
                found.append((table.name, sorted(map(repr, result.all()))))
        return found

    async def settled(self) -> list[tuple[str, list[Any]]]:
        """The rows once three reads 50 ms apart agree (at most a few seconds)."""
        previous, same = await self.rows(), 0
        for _ in range(100):
            await asyncio.sleep(0.05)
            current = await self.rows()
            same = same + 1 if current == previous else 0
            if same == 2:
                break
            previous = current
        return previous

    async def before(self) -> None:
        """Before a request: the rows to compare with, once settled after a success."""
        if self._rows is None:
            self._rows = await self.settled()

    async def after(self, answer: httpx.Response, where: str) -> None:
        """After ``answer``: a refusal left every row as it was before the request."""
        assert self._rows is not None
        if answer.is_success:
            self._rows = None  # settle before the next comparison
            return
        after = await self.rows()
        changed = [
            name for (name, rows), (_, was) in zip(after, self._rows, strict=True) if rows != was
        ]
        assert not changed, f"refused, yet {changed} changed: {where}"

    async def close(self) -> None:
        await self._engine.dispose()


@pytest.fixture
async def database(product: Product) -> AsyncIterator[Database]:
    watch = Database(product)
    try:
        yield watch
    finally:
        await watch.close()


# --- strategies ----------------------------------------------------------------------------

# Strings that break naive storage or display: NUL (PostgreSQL refuses it in text), other
# control characters, characters beyond the BMP (4 bytes in UTF-8, 2 units in UTF-16), a lone
# surrogate, bidirectional overrides, a byte-order mark.
EDGE_TEXT = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\x01\x1b[31m\x7f",
        "\r\n\t",
        "\U0001f600" * 3,
        "\U00010000\U0010ffff",
        "𝔘𝔫𝔦",
        "\ud800",
        "\u202eevil",
        "\ufeff",
        "\u0085\u2028\u2029",
        "x" * 5_000,
    ]
)
# Numbers past every database integer and Python's digit limit for int(str).
HUGE = st.sampled_from(
    [2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, -(10**30), 10**400]
)
EDGE_JSON = EDGE_TEXT | HUGE | st.dictionaries(EDGE_TEXT, EDGE_TEXT | HUGE, max_size=2)
# Any text, lone surrogates included: JSON carries them as "\ud800" escapes.
TEXT = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=40) | EDGE_TEXT
# Text that can be put in a URL path (percent-encoded).
PATH_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
SCALARS = st.none() | st.booleans() | st.integers() | HUGE | st.floats() | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=10,
)
# A JSON value of another type than the string a field wants.
NOT_A_STRING = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.lists(SCALARS, max_size=3)
    | st.dictionaries(TEXT, SCALARS, max_size=3)
)
# No ASCII digit, so no lenient reading can make a moment of it.
NOT_A_MOMENT = st.text(st.characters(exclude_characters="0123456789"), max_size=30)
BAD_MOMENTS = ["2026-13-45T25:61:00+05:00", "2026-02-30T10:00:00Z", "10:00", "2026-01-05T"]
SMS_LIMITS = {"message_id": 200, "from": 40, "to": 20, "text": 1_000}


def _too_long(limit: int) -> st.SearchStrategy[str]:
    return st.builds(lambda ch, n: ch * n, st.characters(), st.integers(limit + 1, 3 * limit))


def _broken_sms_field(field: str) -> st.SearchStrategy[Any]:
    """A value that makes ``field`` of an inbound SMS malformed (or leaves it out)."""
    if field == "received_at":
        # Numbers are left out: lenient readings of them are tested on their own below.
        return (
            st.just(MISSING)
            | st.none()
            | st.booleans()
            | NOT_A_MOMENT
            | st.sampled_from(BAD_MOMENTS)
        )
    broken = st.just(MISSING) | NOT_A_STRING | _too_long(SMS_LIMITS[field])
    return broken if field == "text" else broken | st.just("")


@st.composite
def _malformed_sms(draw: st.DrawFn, *, phone: str, short_number: str) -> dict[str, Any]:
    """The citizen's reply, consent or refusal likely, with at least one field broken."""
    sms: dict[str, Any] = {
        "message_id": draw(st.text(min_size=1, max_size=40)),
        "from": phone,
        "to": short_number,
        "text": draw(st.sampled_from(["21*1", "21*2", " 21 * 1 "]) | TEXT),
        "received_at": STAMP,
    }
    # A list, not a set: a set's order follows the process's string hash seed.
    for field in draw(st.lists(st.sampled_from(sorted(sms)), min_size=1, unique=True)):
        value = draw(_broken_sms_field(field))
        if value is MISSING:
            del sms[field]
        else:
            sms[field] = value
    return sms


@st.composite
def _strangers_sms(draw: st.DrawFn, *, phone: str, short_number: str) -> dict[str, Any]:
    """A well-formed SMS that is not the citizen's reply to their short number."""
    sender = draw(st.from_regex(r"\+77\d{9}", fullmatch=True) | st.text(min_size=1, max_size=40))
    mine = normalise_phone(sender) == phone
    to = draw(st.just(short_number) | st.text(min_size=1, max_size=20))
    if mine and to == short_number:
        to = short_number + "0"
    moment = draw(
        st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-12, minutes=-30))]))
    )
    return {
        "message_id": draw(TEXT.filter(bool)),
        "from": sender,
        "to": to,
        "text": draw(st.text(max_size=1_000) | TEXT),
        "received_at": moment.isoformat(),
    }


def _recipient(pool: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A record based on a valid one, some fields replaced by wrong types or invalid values."""
    values: dict[str, st.SearchStrategy[Any]] = {
        "iin": st.from_regex(r"\d{12}", fullmatch=True) | TEXT | NOT_A_STRING,
        "region": st.sampled_from([*REGIONS, "XXX", "ast", ""]) | TEXT | NOT_A_STRING,
        "locality": st.sampled_from(["KOKSHETAU", "AKKOL", "PAVLODAR", "ALMATY"]) | NOT_A_STRING,
        "lang": st.sampled_from(["ru", "kk", "en", "RU"]) | NOT_A_STRING,
        "family_size": st.integers() | NOT_A_STRING | TEXT,
        "assistance": st.lists(st.sampled_from(["TSA", "HOUSING", "tsa"]) | SCALARS, max_size=3)
        | NOT_A_STRING,
    }

    @st.composite
    def record(draw: st.DrawFn) -> dict[str, Any]:
        base = dict(draw(st.sampled_from(pool)))
        for field in draw(st.lists(st.sampled_from(sorted(values)), unique=True)):
            if draw(st.booleans()):
                base.pop(field, None)
            else:
                base[field] = draw(values[field])
        base.update(draw(st.dictionaries(TEXT, SCALARS, max_size=2)))
        return base

    return record()


def _purchases() -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """Shops' purchases: well-formed ones of valid goods, and ones with fields of wrong types
    or sizes."""
    good_line = st.fixed_dictionaries(
        {
            "code": st.sampled_from(GOODS),
            "qty": st.integers(1, 5) | st.decimals("0.001", "50", places=3).map(str),
            "unit_price_kzt": st.integers(0, 10_000),
            "discount_kzt": st.integers(0, 50),
        }
    )
    odd_line = st.fixed_dictionaries(
        {
            "code": st.sampled_from(GOODS) | TEXT | NOT_A_STRING,
            "qty": st.decimals(allow_nan=False, allow_infinity=False).map(str)
            | st.sampled_from(["1e999999999", "1e100000", "1e-999999999", "0", "-1", "NaN"])
            | st.floats()
            | NOT_A_STRING,
            "unit_price_kzt": st.integers() | HUGE | NOT_A_STRING,
            "discount_kzt": st.integers() | HUGE | NOT_A_STRING,
        }
    )
    good = st.fixed_dictionaries(
        {
            "purchase_id": st.text(min_size=1, max_size=30),
            "shop_id": st.just("shop-1") | st.text(min_size=1, max_size=30),
            "items": st.lists(good_line, min_size=1, max_size=3),
        }
    )
    odd = st.fixed_dictionaries(
        {
            "purchase_id": st.text(min_size=1, max_size=30) | TEXT | NOT_A_STRING,
            "shop_id": st.just("shop-1") | TEXT | NOT_A_STRING,
            "items": st.lists(good_line | odd_line, min_size=1, max_size=3) | NOT_A_STRING,
        }
    )
    return good, odd | JSON


def _readings(accounts: list[str]) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """The provider's readings: well-formed ones, and ones with fields of wrong types or
    sizes."""
    good_reading = st.fixed_dictionaries(
        {
            "account_number": st.sampled_from(accounts) | st.text(min_size=1, max_size=40),
            "volume_m3": st.decimals(0, 10**6, places=3).map(str),
            "discount_kzt": st.none() | st.integers(0, 10**6),
        }
    )
    odd_reading = st.fixed_dictionaries(
        {
            "account_number": st.sampled_from(accounts) | TEXT | NOT_A_STRING,
            "volume_m3": st.decimals(allow_nan=False, allow_infinity=False).map(str)
            | st.sampled_from(["1e999999999", "-1", "0.0001", "NaN"])
            | st.floats()
            | NOT_A_STRING,
            "discount_kzt": st.integers() | HUGE | NOT_A_STRING,
        }
    )
    unique = st.lists(good_reading, max_size=3, unique_by=lambda r: r["account_number"])
    good = st.fixed_dictionaries({"readings": unique})
    odd = st.fixed_dictionaries(
        {"readings": st.lists(good_reading | odd_reading, min_size=1, max_size=3) | NOT_A_STRING}
    )
    return good, odd | JSON


# --- helpers -------------------------------------------------------------------------------


def _encode(value: Any) -> bytes:
    """JSON text of ``value``, ASCII so that lone surrogates travel as escapes."""
    return json.dumps(value).encode()


def _signature(secret: str, stamp: bytes, body: bytes) -> bytes:
    digest = hmac.new(secret.encode(), stamp + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}".encode()


def _signed(product: Product, body: bytes, stamp: int | None = None) -> dict[str, bytes]:
    moment = str(int(time.time()) if stamp is None else stamp).encode()
    return {
        "X-Timestamp": moment,
        "X-Signature": _signature(product.settings.sms_webhook_secret, moment, body),
        "Content-Type": b"application/json",
    }


def _shown(sent: Any) -> str:
    text = repr(sent)
    return text if len(text) < 600 else f"{text[:600]}… ({len(text)} characters)"


async def _send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    sent: Any,
    database: Database | None = None,
    **kw: Any,
) -> httpx.Response:
    """Send one fuzzed request; a 5xx, a timeout, a refusal of another shape or a refusal that
    changed a row of ``database`` fails the test."""
    if database is not None:
        await database.before()
    try:
        answer = await http.request(method, url, **kw)
    except httpx.TimeoutException:
        raise AssertionError(f"no answer in time to {method} {url} {_shown(sent)}") from None
    where = f"{method} {url} {_shown(sent)} -> {answer.status_code} {answer.text[:300]}"
    assert answer.status_code < 500, where
    if database is not None:
        await database.after(answer, where)
    if answer.is_redirect:
        # Starlette's answer to a path with a trailing slash ("%2F" in a voucher ID): the same
        # path without it, on the same server.
        assert answer.headers["location"].startswith(_api_root(http)), where
    elif not answer.is_success:
        assert answer.headers.get("content-type", "").startswith("application/json"), where
        body = answer.json()
        assert isinstance(body, dict) and set(body) == {"error", "detail"}, where
        assert isinstance(body["error"], str) and isinstance(body["detail"], str), where
    return answer


def _api_root(http: httpx.AsyncClient) -> str:
    return str(http.base_url).rstrip("/") + "/"


def _client(product: Product, role: str | None = None) -> httpx.AsyncClient:
    """A JSON client of the API, holding ``role``'s token; a request left hanging fails."""
    headers = {"Content-Type": "application/json"}
    if role is not None:
        token = next(t for t, r in product.settings.tokens_by_role().items() if r == role)
        headers["Authorization"] = f"Bearer {token}"
    # A connection per request: on a kept-alive one, each answer waits out a delayed ACK
    # (~40 ms), because the embedded server's connections lack TCP_NODELAY.
    return httpx.AsyncClient(
        base_url=product.api_url,
        headers=headers,
        timeout=20,  # over the 10 s a wallet request may wait for an outside system
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def _awaiting(product: Product) -> tuple[Citizen, ProgramVersion, Any, CycleStatus]:
    """A gas citizen whose consent request went out: the cycle waits for their reply."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=1))
    return citizen, rules, cycle, await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)


async def _unchanged(product: Product, cycle: Any, before: CycleStatus) -> None:
    after = await product.status(cycle)
    assert (after.state, after.history) == (before.state, before.history)


# --- properties ----------------------------------------------------------------------------


async def test_fuzzed_signed_webhook_bodies_never_fail_nor_change_a_cycle(
    product: Product, database: Database
) -> None:
    """Correctly signed bodies that are not the citizen's valid reply get no 5xx and change
    nothing."""
    citizen, rules, cycle, before = await _awaiting(product)
    phone, number = product.phone(citizen), rules.short_number
    bodies: list[bytes] = [
        b"",
        b"\xff\xfe\x00",
        b"NaN",
        b'{"message_id":',
        b"[" * 100_000 + b"]" * 100_000,  # valid JSON, nested deeper than the parser recurses
        b'{"message_id": 1' + b"0" * 5_000 + b"}",  # an integer over Python's 4,300 digits
    ]
    malformed = _malformed_sms(phone=phone, short_number=number)
    strangers = _strangers_sms(phone=phone, short_number=number)
    bodies += [_encode(v) for v in _examples(malformed, 0.45)]
    bodies += [_encode(v) for v in _examples(strangers, 0.25)]
    bodies += [_encode(v) for v in _examples(JSON | EDGE_JSON, 0.15)]
    bodies += _examples(st.binary(max_size=200), 0.15)
    async with _client(product) as http:
        for body in bodies:
            answer = await _send(
                http,
                "POST",
                "/v1/sms/inbound",
                body,
                database=database,
                content=body,
                headers=_signed(product, body),
            )
            if answer.is_success:
                assert answer.json()["result"] in ("no_cycle", "duplicate"), _shown(body)
    await _unchanged(product, cycle, before)


@st.composite
def _bad_signature_headers(draw: st.DrawFn, *, secret: str, body: bytes) -> dict[str, bytes]:
    """Headers a genuine gateway would not send for ``body`` now."""
    now = int(time.time())
    latin = st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        max_size=80,
    ).map(lambda s: s.encode("latin-1"))
    stamp = str(now).encode()
    case = draw(st.integers(0, 6))
    if case == 0:  # none at all, or only one of the two
        signature = _signature(secret, stamp, body)
        return draw(st.sampled_from([{}, {"X-Timestamp": stamp}, {"X-Signature": signature}]))
    if case == 1:  # another secret
        other = draw(st.text(min_size=1).filter(lambda s: s != secret))
        return {"X-Timestamp": stamp, "X-Signature": _signature(other, stamp, body)}
    if case == 2:  # a garbled signature
        return {"X-Timestamp": stamp, "X-Signature": draw(latin)}
    if case == 3:  # signed over other bytes
        other_body = draw(st.binary(max_size=50).filter(lambda b: b != body))
        return {"X-Timestamp": stamp, "X-Signature": _signature(secret, stamp, other_body)}
    if case == 4:  # stale or from the future, correctly signed
        # A minute's margin over 300 s: the requests are sent a while after they are drawn.
        skew = draw(st.integers(360, 10**9)) * draw(st.sampled_from([-1, 1]))
        old = str(now + skew).encode()
        return {"X-Timestamp": old, "X-Signature": _signature(secret, old, body)}
    if case == 5:  # a timestamp that is not unix seconds, correctly signed over it
        odd = draw(latin.filter(lambda s: not s.isdigit()))
        return {"X-Timestamp": odd, "X-Signature": _signature(secret, odd, body)}
    # signed with the timestamp of another moment than the one sent
    sent = str(now + draw(st.integers(1, 200))).encode()
    return {"X-Timestamp": sent, "X-Signature": _signature(secret, stamp, body)}


async def test_unsigned_or_wrongly_signed_webhooks_are_401(
    product: Product, database: Database
) -> None:
    """A request without a valid, fresh signature gets 401 whatever its body."""
    citizen, rules, cycle, before = await _awaiting(product)
    secret = product.settings.sms_webhook_secret

    def consent(message_id: str) -> bytes:
        return _encode(
            {
                "message_id": message_id,
                "from": product.phone(citizen),
                "to": rules.short_number,
                "text": "21*1",
                "received_at": datetime.now(UTC).isoformat(),
            }
        )

    signed = consent("fuzz-explicit")
    cases: list[tuple[bytes, dict[str, bytes]]] = [
        # Digits to str.isdigit() that int() does not read, and more digits than it reads.
        (signed, {"X-Timestamp": b"\xb2", "X-Signature": _signature(secret, b"\xb2", signed)}),
        (signed, {"X-Timestamp": b"9" * 5_000, "X-Signature": b"sha256=00"}),
        (signed, {"X-Timestamp": b"", "X-Signature": b""}),
    ]
    bodies = st.builds(lambda n: consent(f"fuzz-{n}"), st.integers(0, 10**6)) | st.binary(
        max_size=200
    )
    drawn = _examples(
        bodies.flatmap(
            lambda b: st.tuples(st.just(b), _bad_signature_headers(secret=secret, body=b))
        )
    )
    async with _client(product) as http:
        for body, headers in cases + drawn:
            sent = (body, headers)
            answer = await _send(
                http,
                "POST",
                "/v1/sms/inbound",
                sent,
                database=database,
                content=body,
                headers=headers,
            )
            assert answer.status_code == 401, f"{_shown(sent)} -> {answer.status_code}"
    await _unchanged(product, cycle, before)


async def test_fuzzed_recipient_batches_never_fail(product: Product, database: Database) -> None:
    """Random paths, records and bodies get no 5xx, and a batch's answer accounts for every
    record."""
    months = {program: (await product.next_month(program))[0] for program in ("gas", "food")}
    pool = [
        product.citizen(program).model_dump(mode="json", exclude_none=True)
        for program in ("gas", "food")
        for _ in range(3)
    ]
    batch = st.lists(_recipient(pool), max_size=6).map(lambda r: {"recipients": r})
    body = st.one_of(
        batch,
        batch,
        st.lists(_recipient(pool) | JSON, max_size=4).map(lambda r: {"recipients": r}),
        st.fixed_dictionaries({"recipients": NOT_A_STRING | TEXT}),
        JSON,
    ).map(_encode) | st.binary(max_size=100)
    odd_path = st.tuples(
        st.sampled_from(["gas", "food"]) | PATH_TEXT,
        st.sampled_from([*months.values(), "2020-01"])
        | st.from_regex(r"\d{4}-\d{2}", fullmatch=True)
        | PATH_TEXT,
    )
    path = st.sampled_from(sorted(months.items())) | odd_path
    edges = [
        (program, edge, _encode({"recipients": pool[:1]}))
        for program in ("gas", "food")
        for edge in ("0000-01", "9999-12")
    ]
    surrogate_key = _encode({"recipients": [{**pool[0], "\ud800": 1}]})
    surrogate_iin = _encode({"recipients": [{**pool[0], "iin": "\ud800"}]})
    edges += [("gas", months["gas"], surrogate_key), ("gas", months["gas"], surrogate_iin)]
    drawn = [(p, m, content) for (p, m), content in _examples(st.tuples(path, body))]
    async with _client(product, "sdu") as sdu:
        for p, m, content in edges + drawn:
            url = f"/v1/programs/{quote(p, safe='')}/months/{quote(m, safe='')}/recipients"
            answer = await _send(sdu, "POST", url, content, database=database, content=content)
            if answer.is_success:
                sent, got = json.loads(content), answer.json()
                counted = got["accepted"] + got["already_listed"] + len(got["rejected"])
                assert counted == len(sent["recipients"]), f"{_shown(sent)} -> {got}"


async def _issued(product: Product, programs: tuple[str, ...]) -> list[str]:
    """Vouchers issued the same month, one per entry of ``programs``; returns their ids."""
    month, _ = await product.next_month(programs[0])
    cycles, sends = [], []
    for program in programs:
        found, rules = await product.next_month(program)
        assert found == month, "every program runs the month under test"
        cycles.append(await product.list(rules, month, product.citizen(program)))
        sends.append(calendar.send_moment(rules, month))
    await product.sleep_until(max(sends) + timedelta(minutes=1))
    vouchers = []
    for cycle in cycles:
        await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
        assert await product.reply(cycle, "21*1") == "consent"
        vouchers.append((await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)).voucher_id)
    return vouchers


async def test_fuzzed_wallet_and_provider_requests_never_fail(
    product: Product, database: Database
) -> None:
    """Random voucher ids and bodies on the wallet's and the provider's routes get no 5xx."""
    entering, gas, food = await _issued(product, ("gas", "gas", "food"))
    accounts = [product.account("AST"), product.account("KAR")]
    async with _client(product, "wallet") as wallet:
        for url, body in (
            (f"{gas}/account", {"account_number": accounts[1]}),
            (f"{gas}/confirm", {}),
            (f"{food}/activate", {}),
        ):
            answer = await wallet.post(f"/v1/vouchers/{url}", json=body)
            assert answer.status_code == 200, answer.text
        month = (await wallet.get(f"/v1/vouchers/{food}")).json()["month"]

    def voucher(*ids: str) -> st.SearchStrategy[str]:
        return st.sampled_from(ids) | PATH_TEXT.map(lambda s: quote(s, safe=""))

    def route(name: str, ids: st.SearchStrategy[str], body: st.SearchStrategy[Any]) -> Any:
        return st.tuples(st.just(name), ids, body)

    number = st.sampled_from(accounts) | st.text(min_size=1, max_size=40)
    purchase, odd_purchase = _purchases()
    readings, odd_readings = _readings(accounts)
    months = st.sampled_from([month, "2020-01", "2099-12"])
    odd_months = st.from_regex(r"\d{4}-\d{2}", fullmatch=True) | PATH_TEXT.map(
        lambda s: quote(s, safe="")
    )
    line = {"code": GOODS[0], "qty": 1, "unit_price_kzt": 1, "discount_kzt": 0}
    # ``entering`` stays issued, so that the account numbers entered on it reach the provider.
    cases: list[tuple[str, str, Any]] = [
        # Account numbers that are no plain URL path segment of the provider's API.
        *(
            ("account", entering, {"account_number": number})
            for number in (f"../handovers/{month}", "%zz", "?", "\x01", "\x7f")
        ),
        # Quantities and prices whose goods total overflows a Decimal or a database integer.
        *(
            ("redemptions", food, {"purchase_id": f"edge-{n}", "shop_id": "s", "items": [item]})
            for n, item in enumerate(
                [
                    {**line, "qty": "1e999999999"},
                    {**line, "qty": "1e100000"},
                    {**line, "unit_price_kzt": 10**30},
                ]
            )
        ),
        *_examples(
            route("account", st.just(entering), st.builds(dict, account_number=number)), 0.45
        ),
        *_examples(
            route(
                "account",
                voucher(entering, gas, food),
                st.fixed_dictionaries({"account_number": TEXT | NOT_A_STRING}) | JSON,
            ),
            0.55,
        ),
        *_examples(route("confirm", voucher(entering, gas, food), st.just({}) | JSON)),
        *_examples(route("activate", voucher(entering, gas, food), st.just({}) | JSON)),
        *_examples(route("redemptions", st.just(food), purchase), 0.5),
        *_examples(route("redemptions", voucher(food, gas), odd_purchase), 0.5),
    ]
    async with _client(product, "wallet") as wallet:
        for name, voucher_id, body in cases:
            url = f"/v1/vouchers/{voucher_id}/{name}"
            await _send(wallet, "POST", url, body, database=database, content=_encode(body))
        for voucher_id in _examples(voucher(entering, gas, food)):
            await _send(wallet, "GET", f"/v1/vouchers/{voucher_id}", voucher_id)
    reports = [
        *_examples(st.tuples(months, readings), 0.4),
        *_examples(st.tuples(months, odd_readings), 0.4),
        *_examples(st.tuples(odd_months, readings | odd_readings), 0.2),
    ]
    async with _client(product, "provider") as provider:
        for m, body in reports:
            url = f"/v1/programs/gas/months/{m}/consumption"
            await _send(provider, "POST", url, body, database=database, content=_encode(body))


async def test_fuzzed_withdrawals_never_fail(product: Product, database: Database) -> None:
    """SDU's withdrawal by body (CONTRACTS.md §1), with random paths and bodies: no 5xx, and a
    refusal changes nothing."""
    month, rules = await product.next_month("gas")
    listed = product.citizen("gas")
    await product.state_becomes(await product.list(rules, month, listed), CycleState.SCHEDULED)
    iin = (
        st.just(listed.iin) | st.from_regex(r"\d{12}", fullmatch=True) | TEXT | HUGE | NOT_A_STRING
    )
    body = st.fixed_dictionaries({"iin": iin}) | JSON
    path = st.tuples(
        st.sampled_from(["gas", "food"]) | PATH_TEXT,
        st.sampled_from([month, "2020-01", "9999-12"]) | PATH_TEXT,
    )
    async with _client(product, "sdu") as sdu:
        for (program, m), sent in _examples(st.tuples(path, body)):
            url = f"/v1/programs/{quote(program, safe='')}/months/{quote(m, safe='')}/withdrawals"
            await _send(sdu, "POST", url, sent, database=database, content=_encode(sent))


async def test_a_voucher_id_no_voucher_can_have_is_404(
    product: Product, database: Database
) -> None:
    """An ID with a NUL (which PostgreSQL refuses even in a query), non-BMP characters or 5,000
    characters is no voucher: 404 on every voucher route, nothing looked up, nothing changed."""
    odd = ["%00", "V%00", "V" + "0" * 18 + "%00", quote("\U0001f600V", safe=""), "V" * 5_000]
    async with _client(product, "wallet") as wallet:
        for voucher_id in odd:
            url = f"/v1/vouchers/{voucher_id}"
            answer = await _send(wallet, "GET", url, url, database=database)
            assert answer.status_code == 404, f"{url} -> {answer.status_code}"
            for route, body in (("account", {"account_number": "1"}), ("activate", {})):
                answer = await _send(
                    wallet, "POST", f"{url}/{route}", body, database=database, json=body
                )
                assert answer.status_code == 404, f"{url}/{route} -> {answer.status_code}"


async def test_oversized_bodies_are_refused_with_4xx(product: Product, database: Database) -> None:
    """A 100 kB SMS text, over 10,000 recipients or readings, over 500 purchase lines: 413/422."""
    month, rules = await product.next_month("gas")
    record = product.citizen("gas").model_dump(mode="json", exclude_none=True)
    sms = {
        "message_id": "huge",
        "from": "+77011234567",
        "to": rules.short_number,
        "text": "21*1" + "x" * 100_000,
        "received_at": datetime.now(UTC).isoformat(),
    }
    line = {"code": GOODS[0], "qty": 1, "unit_price_kzt": 1, "discount_kzt": 0}
    cases = [
        (None, "/v1/sms/inbound", sms),
        ("sdu", f"/v1/programs/gas/months/{month}/recipients", {"recipients": [record] * 10_001}),
        (
            "provider",
            f"/v1/programs/gas/months/{month}/consumption",
            {"readings": [{"account_number": "1", "volume_m3": "1"}] * 10_001},
        ),
        (
            "wallet",
            "/v1/vouchers/V0/redemptions",
            {"purchase_id": "p", "shop_id": "s", "items": [line] * 501},
        ),
    ]
    for role, url, body in cases:
        content = _encode(body)
        signed = _signed(product, content) if role is None else {}
        async with _client(product, role) as http:
            answer = await _send(
                http, "POST", url, url, database=database, content=content, headers=signed
            )
        assert answer.status_code in (413, 422), f"{url} -> {answer.status_code}"


async def test_a_reply_time_without_an_offset_is_malformed(
    product: Product, database: Database
) -> None:
    """A consent whose ``received_at`` is not ISO 8601 with an offset gets 422, no voucher."""
    citizen, rules, cycle, before = await _awaiting(product)
    async with _client(product) as http:
        for n, moment in enumerate(
            [1_767_589_200, "1767589200", "2026-01-05", "2026-01-05T10:00:00"]
        ):
            body = _encode(
                {
                    "message_id": f"lenient-{n}",
                    "from": product.phone(citizen),
                    "to": rules.short_number,
                    "text": "21*1",
                    "received_at": moment,
                }
            )
            answer = await _send(
                http,
                "POST",
                "/v1/sms/inbound",
                body,
                database=database,
                content=body,
                headers=_signed(product, body),
            )
            assert (answer.status_code, answer.json()["error"]) == (422, "malformed"), _shown(body)
    await _unchanged(product, cycle, before)


async def test_a_month_the_calendar_cannot_run_leaves_no_workflow_running(
    product: Product, database: Database
) -> None:
    """A list for 9999-12, or for a year in other than ASCII digits, is refused and starts
    nothing."""
    month, _ = await product.next_month("gas")
    record = product.citizen("gas").model_dump(mode="json", exclude_none=True)
    # ``\d`` in the route's month pattern also matches other scripts' digits.
    eastern = month[0] + month[1:4].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) + month[4:]
    async with _client(product, "sdu") as sdu:
        for odd in ("9999-12", eastern):
            url = f"/v1/programs/gas/months/{quote(odd, safe='')}/recipients"
            answer = await _send(
                sdu, "POST", url, odd, database=database, content=_encode({"recipients": [record]})
            )
            assert answer.status_code in (409, 422), f"{odd} -> {answer.status_code}"
            for kind in ("intake", "handover"):
                try:
                    found = await product.client.get_workflow_handle(f"{kind}-gas-{odd}").describe()
                except RPCError as missing:
                    assert missing.status == RPCStatusCode.NOT_FOUND
                    continue
                assert found.status != WorkflowExecutionStatus.RUNNING, f"{kind} of {odd}"


# Header values h11 can send: printable Latin-1 and tabs.
LATIN = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
    | st.just("\t"),
    max_size=60,
)
HEADER_NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)


@st.composite
def _odd_headers(draw: st.DrawFn, *, tokens: list[str]) -> dict[str, bytes]:
    """Headers a careless or hostile client sends: any role's token or none, in odd forms;
    content types and encodings that do not describe the body; anything else."""
    headers: dict[str, str] = {}
    token = draw(st.sampled_from(["", *tokens]) | LATIN)
    scheme = draw(st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "Bearer  ", "Token "]))
    if draw(st.booleans()):
        headers["Authorization"] = scheme + token + draw(st.sampled_from(["", " ", "\t", "x"]))
    kinds = ["application/json", "text/plain", "application/json; charset=utf-16", ""]
    headers["Content-Type"] = draw(st.sampled_from([*kinds, "multipart/form-data"]) | LATIN)
    if draw(st.booleans()):
        headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "br", "deflate"]) | LATIN)
    for name, value in draw(st.dictionaries(HEADER_NAME, LATIN, max_size=3)).items():
        if name.lower() not in ("content-length", "transfer-encoding", "host", "connection"):
            headers[name] = value
    # HTTP trims a value's outer whitespace (h11 will not send it).
    return {name: value.strip(" \t").encode("latin-1") for name, value in headers.items()}


async def test_fuzzed_headers_on_every_route_never_fail_nor_change_anything(
    product: Product, database: Database
) -> None:
    """Every route with a valid body under odd headers: no 5xx, and whatever is refused (401,
    403, 415, 422…) changes no row."""
    (voucher,) = await _issued(product, ("food",))
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    # Listed already: a list that gets through answers "already_listed" and writes nothing, so
    # that no fan-out is still writing when a refusal's rows are compared.
    await product.state_becomes(await product.list(rules, month, citizen), CycleState.SCHEDULED)
    record = citizen.model_dump(mode="json", exclude_none=True)
    sms = {
        "message_id": "headers",
        "from": "+77011234567",
        "to": rules.short_number,
        "text": "21*1",
        "received_at": datetime.now(UTC).isoformat(),
    }
    line = {"code": GOODS[0], "qty": 1, "unit_price_kzt": 10, "discount_kzt": 1}
    routes: list[tuple[str, str, Any]] = [
        ("POST", f"/v1/programs/gas/months/{month}/recipients", {"recipients": [record]}),
        ("POST", "/v1/sms/inbound", sms),
        ("GET", f"/v1/vouchers/{voucher}", None),
        ("POST", f"/v1/vouchers/{voucher}/activate", {}),
        ("POST", f"/v1/vouchers/{voucher}/account", {"account_number": "1"}),
        ("POST", f"/v1/vouchers/{voucher}/confirm", {}),
        (
            "POST",
            f"/v1/vouchers/{voucher}/redemptions",
            {"purchase_id": "h", "shop_id": "s", "items": [line]},
        ),
        ("POST", f"/v1/programs/gas/months/{month}/consumption", {"readings": []}),
        ("GET", f"/v1/programs/gas/months/{month}/report", None),
        ("GET", "/v1/programs/food/goods", None),
        ("POST", "/codec/encode", {"payloads": []}),
        ("POST", "/codec/decode", {"payloads": []}),
    ]
    tokens = list(product.settings.tokens_by_role())
    async with httpx.AsyncClient(
        base_url=product.api_url, timeout=20, limits=httpx.Limits(max_keepalive_connections=0)
    ) as http:
        for method, url, body in routes:
            content = b"" if body is None else _encode(body)
            # The goods list takes no input but its headers: it gets the whole share.
            share = 1.0 if url.endswith("/goods") else 0.25
            for headers in _examples(_odd_headers(tokens=tokens), share):
                if url == "/v1/sms/inbound" and "X-Signature" not in headers:
                    headers.update(_signed(product, content))
                sent = (headers, body)
                await _send(
                    http, method, url, sent, database=database, content=content, headers=headers
                )


async def test_fuzzed_ops_routes_never_fail(product: Product, database: Database) -> None:
    """The report's path, and the codec's payloads (random, truncated, tampered, under an
    unknown key): no 5xx."""
    month, _ = await product.next_month("gas")
    async with _client(product, "ops") as ops:
        sample = {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "eyJpaW4iOiJ4In0="}
        encoded = (await ops.post("/codec/encode", json={"payloads": [sample]})).json()
    sealed = encoded["payloads"][0]
    b64 = st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode())

    def tampered(data: bytes, cut: int, flip: int) -> str:
        raw = bytearray(data[:cut] if cut < len(data) else data)
        if raw:
            raw[flip % len(raw)] ^= 0x01
        return base64.b64encode(bytes(raw)).decode()

    original = base64.b64decode(sealed["data"])
    payload = st.fixed_dictionaries(
        {
            "metadata": st.just(sealed["metadata"])
            | st.dictionaries(st.sampled_from(["encoding", "encryption-key-id", "x"]), b64 | TEXT),
            "data": st.builds(tampered, st.just(original), st.integers(0, 100), st.integers())
            | b64
            | TEXT,
        }
    )
    bodies = st.fixed_dictionaries({"payloads": st.lists(payload, max_size=3)}) | JSON
    months = st.sampled_from([month, "2020-01", "9999-12", "0000-00"]) | PATH_TEXT
    programs = st.sampled_from(["gas", "food"]) | PATH_TEXT
    async with _client(product, "ops") as ops:
        for body in _examples(bodies):
            for route in ("/codec/decode", "/codec/encode"):
                await _send(ops, "POST", route, body, database=database, content=_encode(body))
        for program, m in _examples(st.tuples(programs, months)):
            url = f"/v1/programs/{quote(program, safe='')}/months/{quote(m, safe='')}/report"
            await _send(ops, "GET", url, url, database=database)
