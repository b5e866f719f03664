"""The ops role from an OIDC access token: what the Temporal Web UI passes to the codec when SSO
is on ("pass access token"), verified against the identity provider's JWKS with PyJWT."""

from __future__ import annotations

import asyncio
from functools import cached_property
from typing import Any

import jwt

from models.settings import Settings

# RSA and EC signatures only: an "alg" the token chooses itself ("none", HS256 keyed with the
# public key) is never accepted.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


class OidcVerifier:
    """Checks access tokens of one issuer: signature (JWKS), issuer, audience, expiry, ops role.

    The JWKS is fetched on first use and again when a token names an unknown key (rotation);
    PyJWT caches it in between.
    """

    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.oidc_issuer
        self._audience = settings.oidc_audience
        self._jwks_url = settings.oidc_jwks_url
        self._claim = settings.oidc_roles_claim
        self._ops_role = settings.oidc_ops_role

    @property
    def enabled(self) -> bool:
        """Access tokens are accepted only once issuer, audience and JWKS are configured."""
        return bool(self._issuer and self._audience and self._jwks_url)

    @cached_property
    def _keys(self) -> jwt.PyJWKClient:
        assert self._jwks_url is not None, "only used when enabled"
        return jwt.PyJWKClient(self._jwks_url, cache_keys=True, lifespan=300, timeout=10)

    async def ops_role(self, token: str) -> bool:
        """True if ``token`` is a valid access token of an ops user; False for anything else."""
        if not self.enabled or token.count(".") != 2:
            return False
        try:
            # PyJWKClient fetches with urllib (blocking): off the event loop.
            claims = await asyncio.to_thread(self._verify, token)
        except (jwt.PyJWTError, OSError):
            return False
        return self._ops_role in _roles(claims, self._claim)

    def _verify(self, token: str) -> dict[str, Any]:
        key = self._keys.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=self._audience,
            issuer=self._issuer,
            options={"require": ["exp", "iss", "aud"]},
            leeway=30,
        )
        return claims


def _roles(claims: dict[str, Any], path: str) -> list[str]:
    """The roles at ``path`` (dotted) of the claims: a list of strings, or one string."""
    node: Any = claims
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, str):
        return node.split()
    if isinstance(node, list):
        return [role for role in node if isinstance(role, str)]
    return []
