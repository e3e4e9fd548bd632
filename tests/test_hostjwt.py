"""``HostJWT`` on its own: what it accepts and refuses, with the messages every door answers."""

import time
from typing import Any

import jwt
import pytest
from starlette.requests import HTTPConnection

from grace_chat.api.hostjwt import HostJWT
from grace_chat.api.identity import Gate
from grace_chat.auth import Authenticator, Identity, TokenAuthority
from grace_chat.errors import Unauthenticated

SECRET = "the-host-s-own-secret-of-at-least-32-bytes"


def token(**claims: Any) -> str:
    now = int(time.time())
    base = {"sub": "ann", "iss": "https://host", "aud": "app", "iat": now, "exp": now + 60}
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


def request(headers: dict[str, str]) -> HTTPConnection:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return HTTPConnection({"type": "http", "headers": raw, "query_string": b"", "path": "/"})


HOST = HostJWT(
    issuer="https://host", audience="app", algorithms=["HS256"], key=SECRET, admin_claim="staff"
)


async def test_a_valid_token_is_its_subject_and_admin_only_by_the_claim() -> None:
    ann = await HOST.verify_token(token())
    assert ann == Identity("ann") and ann.expires_at is not None
    assert (await HOST.verify_token(token(staff=True))).admin
    assert not (await HOST.verify_token(token(staff="yes"))).admin
    bearer = request({"Authorization": f"Bearer {token()}"})
    assert await HOST(bearer) == Identity("ann")
    assert await HOST(request({})) is None


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 5}, "token expired"),
        ({"iss": "https://elsewhere"}, "invalid token"),
        ({"aud": "another-app"}, "invalid token"),
        ({"sub": ""}, "invalid token"),
        ({"sub": "x" * 200}, "invalid token"),
    ],
)
async def test_bad_tokens_are_refused_as_grace_refuses_its_own(
    claims: dict[str, Any], message: str
) -> None:
    with pytest.raises(Unauthenticated) as refused:
        await HOST.verify_token(token(**claims))
    assert refused.value.message == message


async def test_unsigned_and_wrongly_signed_tokens_are_refused() -> None:
    unsigned = jwt.encode({"sub": "ann", "iss": "https://host", "aud": "app"}, None, "none")
    forged = jwt.encode({"sub": "ann", "iss": "https://host", "aud": "app"}, "x" * 40, "HS256")
    for bad in (unsigned, forged, "not-a-jwt"):
        with pytest.raises(Unauthenticated, match="invalid token"):
            await HOST.verify_token(bad)
    with pytest.raises(ValueError, match="never accepted"):
        HostJWT(issuer="i", audience=None, algorithms=["none"], key=SECRET)
    with pytest.raises(ValueError, match="exactly one"):
        HostJWT(issuer="i", audience=None, algorithms=["HS256"])


async def test_grace_s_own_tokens_stay_grace_s(tmp_path: Any) -> None:
    auth = Authenticator(secret="g" * 40, data_dir=tmp_path, ttl=60)
    auth.open()
    gate = Gate(auth, HOST)
    own = TokenAuthority("g" * 40, 60).issue("bob")
    assert not HOST.owns(own)
    assert await gate.identify(request({"Authorization": f"Bearer {own}"})) == Identity("bob")
    assert await gate.verify_token(own) == Identity("bob")
    assert await gate.verify_token(token()) == Identity("ann")
    # a token claiming Grace as issuer is checked with Grace's secret only
    fake = jwt.encode({"sub": "root", "iss": "grace", "exp": int(time.time()) + 60}, SECRET)
    with pytest.raises(Unauthenticated, match="invalid token"):
        await gate.verify_token(fake)
    assert await gate.identify(request({})) is None
