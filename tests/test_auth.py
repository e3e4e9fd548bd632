"""Identity: tokens this server signed, the Bearer header, the browser-origin check, the secret."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import jwt
import pytest

from grace_chat.auth import (
    Authenticator,
    Identity,
    TokenAuthority,
    bearer,
    check_user_id,
    load_or_create_secret,
    origin_allowed,
)
from grace_chat.errors import BadRequest, Unauthenticated

SECRET = "s" * 48


def test_a_token_names_its_user_and_whether_it_is_an_admin() -> None:
    tokens = TokenAuthority(SECRET, 3600)
    assert tokens.verify(tokens.issue("ann")) == Identity("ann", admin=False)
    assert tokens.verify(tokens.issue("ops", admin=True)) == Identity("ops", admin=True)


def test_expired_foreign_unsigned_and_tampered_tokens_are_refused_and_say_which() -> None:
    tokens = TokenAuthority(SECRET, 3600)
    with pytest.raises(Unauthenticated, match="token expired"):
        tokens.verify(tokens.issue("ann", ttl=-1))
    foreign = TokenAuthority("f" * 48, 3600).issue("ann")
    now = int(time.time())
    claims = {"sub": "ann", "iss": "grace", "iat": now, "exp": now + 60, "adm": True}
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    header, _, signature = tokens.issue("ann").split(".")
    raised = json.dumps({**claims, "adm": True}).encode()
    admin_payload = jwt.utils.base64url_encode(raised).decode()
    for bad in (foreign, unsigned, f"{header}.{admin_payload}.{signature}", "not-a-token"):
        with pytest.raises(Unauthenticated, match="invalid token"):
            tokens.verify(bad)


def test_a_token_without_an_expiry_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "ann", "iss": "grace", "iat": now}, SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        TokenAuthority(SECRET, 3600).verify(token)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        TokenAuthority("short", 3600)


def test_the_secret_is_created_once_owner_only_and_reused(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(tmp_path / "data") == first and len(first) >= 32


def test_bearer_takes_the_token_and_refuses_other_schemes() -> None:
    assert bearer(None) is None and bearer("") is None
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc"
    for header in ("Basic dXNlcjpwdw==", "Bearer", "Bearer    "):
        with pytest.raises(Unauthenticated):
            bearer(header)


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "grace.example", (), True),  # not a browser
        ("https://grace.example", "grace.example", (), True),  # the page's own origin
        ("https://evil.example", "grace.example", (), False),
        ("https://app.example", "grace.example", ("https://app.example",), True),
        ("https://evil.example", "grace.example", ("*",), True),
        ("https://grace.example", None, (), False),
    ],
)
def test_origin_check(
    origin: str | None, host: str | None, allowed: tuple[str, ...], ok: bool
) -> None:
    assert origin_allowed(origin, host, allowed) is ok


def test_user_ids_are_printable_text_of_bounded_length() -> None:
    assert check_user_id("ann") == "ann"
    for bad in ("", "x" * 129, "a\nb", None, 7):
        with pytest.raises(BadRequest):
            check_user_id(bad)


def test_the_authenticator_identifies_from_header_or_cookie_and_query_only_without_auth(
    tmp_path: Path,
) -> None:
    auth = Authenticator(secret=SECRET, data_dir=tmp_path, ttl=60)
    with pytest.raises(RuntimeError, match="not started"):
        auth.identify("Bearer x", None, None)
    auth.open()
    token = auth.tokens.issue("ann")
    assert auth.identify(f"Bearer {token}", None, None) == Identity("ann")
    assert auth.identify(None, token, None) == Identity("ann")
    assert auth.identify(None, None, "mallory") is None  # the query never names a user
    with pytest.raises(Unauthenticated):
        auth.identify(None, "garbage", None)
    open_door = Authenticator(secret=SECRET, data_dir=tmp_path, ttl=60, no_auth=True)
    open_door.open()
    assert open_door.identify(None, None, "dev") == Identity("dev", admin=True)


def test_the_authenticator_loads_the_secret_from_the_data_directory(tmp_path: Path) -> None:
    first = Authenticator(secret=None, data_dir=tmp_path, ttl=60)
    first.open()
    token = first.tokens.issue("ann")
    again = Authenticator(secret=None, data_dir=tmp_path, ttl=60)
    again.open()
    assert again.tokens.verify(token) == Identity("ann")
