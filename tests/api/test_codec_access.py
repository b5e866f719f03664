"""The Temporal Web UI decodes for ops only (issue 10 item 1): the user's OIDC access token
verified against the identity provider's JWKS, the static ops token, or ``make run``'s dev mode;
CORS for the UI's configured origin on the codec routes only."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.testing import WorkflowEnvironment

from tests.harness import Product, fresh_product

ISSUER = "https://sso.test.kz/realms/ops"
AUDIENCE = "temporal-ui"
UI_ORIGIN = "https://temporal.test.kz"
PAYLOAD = {
    "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
    "data": base64.b64encode(b'{"state":"AWAITING_CONSENT"}').decode(),
}


class IdentityProvider:
    """A signing key and its JWKS, served on loopback over real HTTP."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = json.dumps({"keys": [{**public, "kid": self.kid, "use": "sig"}]}).encode()

    def token(self, key: rsa.RSAPrivateKey | None = None, **changes: Any) -> str:
        """An access token of an ops user, with ``changes`` to its claims (None drops one)."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "ops-user-1",
            "iat": now,
            "exp": now + 300,
            "realm_access": {"roles": ["ops", "viewer"]},
        }
        claims = {k: v for k, v in {**claims, **changes}.items() if v is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture
def idp() -> Iterator[tuple[IdentityProvider, str]]:
    """The identity provider and the URL of its JWKS."""
    provider = IdentityProvider()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(provider.jwks)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider, f"http://127.0.0.1:{server.server_address[1]}/certs"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def sso_product(
    env: WorkflowEnvironment, tmp_path: Path, idp: tuple[IdentityProvider, str]
) -> AsyncIterator[Product]:
    """The product with SSO configured and the dev mode off (production's settings)."""
    async with fresh_product(
        env,
        tmp_path,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=idp[1],
        oidc_roles_claim="realm_access.roles",
        codec_cors_origins=UI_ORIGIN,
        codec_dev_open=False,
    ) as running:
        yield running


@pytest.fixture
async def dev_product(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Product]:
    """The product as ``make run`` configures it: the codec open without a token."""
    async with fresh_product(env, tmp_path, codec_dev_open=True) as running:
        yield running


async def _encoded(product: Product) -> dict[str, Any]:
    async with product.api("ops") as ops:
        answer = await ops.post("/codec/encode", json={"payloads": [PAYLOAD]})
    assert answer.status_code == 200, answer.text
    encoded: dict[str, Any] = answer.json()
    return encoded


async def _decode(product: Product, headers: dict[str, str]) -> httpx.Response:
    encoded = await _encoded(product)
    async with httpx.AsyncClient(base_url=product.api_url, timeout=30) as anyone:
        return await anyone.post("/codec/decode", json=encoded, headers=headers)


def _opened(answer: httpx.Response) -> bytes:
    assert answer.status_code == 200, answer.text
    return json_format.ParseDict(answer.json(), Payloads()).payloads[0].data


async def test_an_ops_access_token_signed_by_the_identity_provider_decodes(
    sso_product: Product, idp: tuple[IdentityProvider, str]
) -> None:
    """The UI's "pass access token": a valid token with the ops role opens the payload."""
    token = idp[0].token()
    answer = await _decode(
        sso_product, {"Authorization": f"Bearer {token}", "X-Namespace": "default"}
    )
    assert _opened(answer) == b'{"state":"AWAITING_CONSENT"}'


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://sso.elsewhere.kz/realms/ops"},
        {"aud": "another-app"},
        {"exp": int(time.time()) - 3600},
        {"exp": None},
        {"realm_access": {"roles": ["viewer"]}},
        {"realm_access": None},
    ],
    ids=["wrong-issuer", "wrong-audience", "expired", "no-expiry", "no-ops-role", "no-roles"],
)
async def test_an_access_token_not_of_an_ops_user_of_this_issuer_is_refused(
    sso_product: Product, idp: tuple[IdentityProvider, str], claims: dict[str, Any]
) -> None:
    """Wrong issuer or audience, expired, or without the ops role: 401, nothing decoded."""
    answer = await _decode(sso_product, {"Authorization": f"Bearer {idp[0].token(**claims)}"})
    assert answer.status_code == 401, answer.text
    assert "AWAITING_CONSENT" not in answer.text


async def test_an_access_token_signed_by_another_key_is_refused(
    sso_product: Product, idp: tuple[IdentityProvider, str]
) -> None:
    """A token with the right claims and key ID, signed by a key not in the JWKS: 401."""
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    answer = await _decode(sso_product, {"Authorization": f"Bearer {idp[0].token(forger)}"})
    assert answer.status_code == 401, answer.text


async def test_the_static_ops_token_still_decodes_with_sso_on(sso_product: Product) -> None:
    """Scripts keep their bearer token."""
    token = next(t for t, r in sso_product.settings.tokens_by_role().items() if r == "ops")
    assert _opened(await _decode(sso_product, {"Authorization": f"Bearer {token}"}))


async def test_without_the_dev_mode_a_caller_without_token_gets_401(sso_product: Product) -> None:
    """Production: no token, no plain text (the UI then shows ciphertext only)."""
    answer = await _decode(sso_product, {"X-Namespace": "default"})
    assert answer.status_code == 401, answer.text


async def test_the_dev_mode_decodes_without_a_token_on_the_codec_only(
    dev_product: Product,
) -> None:
    """``make run``: the UI decodes with nobody typing a token; other ops routes still ask for
    one, and a wrong token is still refused."""
    assert _opened(await _decode(dev_product, {"X-Namespace": "default"}))
    wrong = await _decode(dev_product, {"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401
    async with httpx.AsyncClient(base_url=dev_product.api_url) as anyone:
        report = await anyone.get("/v1/programs/gas/months/2026-12/report")
    assert report.status_code == 401


async def test_the_codec_answers_the_ui_s_preflight_for_the_configured_origin_only(
    sso_product: Product,
) -> None:
    """The UI's preflight (POST with Authorization, Content-Type, X-Namespace) is allowed from
    CODEC_CORS_ORIGINS, not from another origin, and on no route but the codec's."""
    asks = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    async with httpx.AsyncClient(base_url=sso_product.api_url) as browser:
        ours = await browser.options("/codec/decode", headers={"Origin": UI_ORIGIN, **asks})
        theirs = await browser.options(
            "/codec/decode", headers={"Origin": "https://evil.example", **asks}
        )
        elsewhere = await browser.options(
            "/v1/programs/gas/months/2026-12/report", headers={"Origin": UI_ORIGIN, **asks}
        )
    assert ours.status_code == 200
    assert ours.headers["access-control-allow-origin"] == UI_ORIGIN
    allowed = ours.headers["access-control-allow-headers"].lower()
    assert all(name in allowed for name in ("authorization", "content-type", "x-namespace"))
    assert "access-control-allow-origin" not in theirs.headers
    assert "access-control-allow-origin" not in elsewhere.headers
