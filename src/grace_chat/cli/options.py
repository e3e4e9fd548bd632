"""What every ``grace`` command reads from its command line: settings, numbers, user ids, and
where a client command goes with which token. Values are checked here; a bad one is a
``ConfigError`` naming its flag."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from grace_chat import target
from grace_chat.auth import TokenAuthority, check_user_id, load_or_create_secret
from grace_chat.config import Settings
from grace_chat.errors import ConfigError, GraceError

URL_HELP = (
    "the server (default: $GRACE_URL, else the server running from .grace or .grace-demo, "
    f"else {target.DEFAULT_URL})"
)
CLIENT_DATA_DIR_HELP = (
    "the server's data directory, whose secret signs minted tokens (default: $GRACE_DATA_DIR, "
    "else the running server's)"
)
#: How often ``grace tail`` tries to (re)connect before it gives up, by default.
TAIL_RETRIES = 10


def settings_for(args: argparse.Namespace, **more: Any) -> Settings:
    return Settings.from_env(
        data_dir=Path(args.data_dir) if getattr(args, "data_dir", None) else None, **more
    )


def token_authority(settings: Settings) -> TokenAuthority:
    return TokenAuthority(
        settings.secret or load_or_create_secret(settings.data_dir), settings.token_ttl_seconds
    )


def number(raw: str | None, flag: str, low: int, high: int | None = None) -> int | None:
    """``raw`` as an integer in ``low..high``; a ``ConfigError`` naming ``flag`` otherwise."""
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ConfigError(f"{flag} must be a whole number {bounds}, not {raw!r}")
    return value


def port_number(raw: str | None) -> int | None:
    return number(raw, "--port", 0, 65535)


def user_id(raw: str, flag: str = "USER") -> str:
    try:
        return check_user_id(raw)
    except GraceError as exc:
        raise ConfigError(f"{flag}: {exc.message}") from None


def client_target(args: argparse.Namespace) -> target.Target:
    """Where a client command goes: ``--url`` / ``$GRACE_URL``, else the running server found
    in the default data directories (``grace_chat.target``); the URL checked."""
    from grace_chat.client.transport import Endpoint
    from grace_chat.errors import BadURL

    found = target.resolve(args.url, getattr(args, "data_dir", None), os.environ)
    try:
        Endpoint.parse(found.url)
    except BadURL as exc:
        raise ConfigError(str(exc)) from None
    return found


def client_token(
    args: argparse.Namespace, where: target.Target, user: str, *, admin: bool = False
) -> str:
    """``--token``, else ``$GRACE_TOKEN``, else one minted with the server's secret."""
    given = args.token or os.environ.get("GRACE_TOKEN")
    if given:
        return str(given)
    settings = Settings.from_env(data_dir=where.data_dir)
    return token_authority(settings).issue(user, admin=admin, ttl=300 if admin else None)
