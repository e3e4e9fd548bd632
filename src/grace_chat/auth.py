"""Identity: signed tokens whose subject is the user, and the browser-origin check.

Guarantees: a user's identity only ever comes from a token this server signed (or, in
``--no-auth`` development mode on loopback, from ``?user_id=``); an expired, malformed or foreign
token raises ``Unauthenticated`` with a message that says which; an identity knows when its token
expires; the signing secret is created once in the data directory with owner-only permissions and
reused across restarts.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jwt

from grace_chat.errors import BadRequest, Unauthenticated

ALGORITHM = "HS256"
ISSUER = "grace"
COOKIE_NAME = "grace_session"
MAX_USER_ID = 128


def check_user_id(user_id: object) -> str:
    """A user id as every part of Grace accepts it: printable text of 1-128 characters."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > MAX_USER_ID:
        raise BadRequest(f"user_id must be a non-empty string of at most {MAX_USER_ID} characters")
    if not user_id.isprintable():
        raise BadRequest("user_id must be printable text")
    return user_id


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    admin: bool = False
    #: When the token this identity came from expires (Unix time, seconds); ``None`` when it
    #: never does (``--no-auth``). A stream opened with the token is closed then.
    expires_at: float | None = field(default=None, compare=False)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Seconds until the token expires (0 once it has); ``None`` when it never does."""
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - (time.time() if now is None else now))


class TokenAuthority:
    def __init__(self, secret: str, default_ttl: int) -> None:
        if len(secret) < 32:
            raise ValueError("the signing secret must be at least 32 characters")
        self._secret = secret
        self._ttl = default_ttl

    def issue(self, user_id: str, *, admin: bool = False, ttl: int | None = None) -> str:
        now = int(time.time())
        claims = {
            "sub": check_user_id(user_id),
            "iss": ISSUER,
            "iat": now,
            "exp": now + (self._ttl if ttl is None else ttl),
        }
        if admin:
            claims["adm"] = True
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Identity:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("invalid token")
        return Identity(subject, admin=claims.get("adm") is True, expires_at=float(claims["exp"]))


def load_or_create_secret(data_dir: Path) -> str:
    """The signing secret in ``data_dir/secret.key``, created (0600, in a 0700 directory when
    that is new) on first use; an existing one readable by others is made 0600."""
    path = data_dir / "secret.key"
    if path.exists():
        try:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except OSError:
            pass  # not ours to change: reading it is all this needs
        return path.read_text().strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret


class Authenticator:
    """Who a request or connection is, for every door (REST, SSE, WebSocket).

    Guarantees: an identity comes from a token this server signed (Bearer header, session
    cookie or ``hello`` frame), or, only with ``no_auth``, from the ``?user_id=`` a local
    developer gives (as an admin). ``open`` loads (or creates) the signing secret; until then
    ``tokens`` raises.
    """

    cookie_name = COOKIE_NAME

    def __init__(
        self,
        *,
        secret: str | None,
        data_dir: Path,
        ttl: int,
        no_auth: bool = False,
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        self._secret = secret
        self._data_dir = data_dir
        self.ttl = ttl
        self.no_auth = no_auth
        self.allowed_origins = allowed_origins
        self._tokens: TokenAuthority | None = None

    def open(self) -> None:
        self._tokens = TokenAuthority(
            self._secret or load_or_create_secret(self._data_dir), self.ttl
        )

    @property
    def tokens(self) -> TokenAuthority:
        if self._tokens is None:
            raise RuntimeError("Grace is not started")
        return self._tokens

    def identify(
        self, authorization: str | None, cookie: str | None, query_user: str | None
    ) -> Identity | None:
        """Who the request is, from its token; ``None`` when it carries no credentials.

        Raises ``Unauthenticated`` for a bad or expired token.
        """
        token = bearer(authorization) or cookie
        if token:
            return self.tokens.verify(token)
        if self.no_auth and query_user:
            return Identity(check_user_id(query_user), admin=True)
        return None

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        return origin_allowed(origin, host, self.allowed_origins)


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'")
    return value.strip()


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """No Origin (not a browser) or the page's own origin, or one on the allow-list."""
    if origin is None:
        return True
    if "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.netloc == host
