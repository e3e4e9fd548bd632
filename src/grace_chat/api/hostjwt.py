"""``HostJWT``: a ready-made host identity (``grace_chat.api.identity``) for the host's own JWT.

The token is read from ``Authorization: Bearer`` (or from the host's cookie, when ``cookie``
names it) and verified with PyJWT: signature (a fixed ``key``, or the key its ``kid`` names in
the host's JWKS at ``jwks_url``, fetched through ``jwt.PyJWKClient`` and cached), issuer,
audience, expiry and the listed ``algorithms`` only. Grace's own tokens (issuer ``grace``) are
left to Grace.

Guarantees: an identity only from a token whose signature, issuer and audience verified; an
expired token raises ``Unauthenticated("token expired")``, any other bad one
``Unauthenticated("invalid token")``, as Grace's own tokens do; the subject claim (``sub`` unless
told otherwise) is the Grace user id; ``admin`` (a claim name) makes admins of tokens where that
claim is ``true``, and nothing else does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import jwt
from starlette.requests import HTTPConnection

from grace_chat.api.identity import issued_by_grace
from grace_chat.auth import Identity, bearer, check_user_id
from grace_chat.errors import GraceError, Unauthenticated

#: Claims every host token must carry.
REQUIRED = ("exp", "iss")


class HostJWT:
    """``HostJWT(issuer=..., audience=..., algorithms=["RS256"], jwks_url=...)`` or with
    ``key=`` (a shared secret for HS*, a public key for RS*/ES*/EdDSA)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str | Sequence[str] | None,
        algorithms: Sequence[str],
        key: Any = None,
        jwks_url: str | None = None,
        cookie: str | None = None,
        subject_claim: str = "sub",
        admin_claim: str | None = None,
        leeway: float = 0,
    ) -> None:
        if (key is None) == (jwks_url is None):
            raise ValueError("give exactly one of key and jwks_url")
        if not algorithms:
            raise ValueError("name the algorithms the host signs with")
        if "none" in {a.lower() for a in algorithms}:
            raise ValueError("unsigned tokens ('none') are never accepted")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.cookie = cookie
        self.subject_claim = subject_claim
        self.admin_claim = admin_claim
        self.leeway = leeway
        self._key = key
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None

    async def __call__(self, conn: HTTPConnection) -> Identity | None:
        token = bearer(conn.headers.get("authorization"))
        if token is None and self.cookie is not None:
            token = conn.cookies.get(self.cookie) or None
        if token is None or not self.owns(token):
            return None
        return await self.verify_token(token)

    def owns(self, token: str) -> bool:
        """Every token not issued by Grace is the host's to verify."""
        return not issued_by_grace(token)

    async def verify_token(self, token: str) -> Identity:
        key = self._key
        if self._jwks is not None:
            try:  # a network fetch the first time (and for an unknown kid): off the event loop
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            except jwt.PyJWTError:
                raise Unauthenticated("invalid token") from None
        return self.verify(token, key)

    def verify(self, token: str, key: Any) -> Identity:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={
                    "require": [*REQUIRED, self.subject_claim, *(["aud"] if self.audience else [])]
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token") from None
        subject = claims.get(self.subject_claim)
        try:
            user = check_user_id(subject)
        except GraceError:
            raise Unauthenticated("invalid token") from None
        admin = self.admin_claim is not None and claims.get(self.admin_claim) is True
        return Identity(user, admin=admin, expires_at=float(claims["exp"]))
