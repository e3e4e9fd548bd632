"""``grace token``, ``notify`` and ``tail``: the commands that talk to a running server (``grace
learn`` lives with learning, ``grace_chat.learning.cli``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from grace_chat import target
from grace_chat.cli.options import (
    TAIL_RETRIES,
    client_target,
    client_token,
    number,
    token_authority,
    user_id,
)
from grace_chat.config import Settings
from grace_chat.errors import GraceError

if TYPE_CHECKING:
    from grace_chat.client import StreamListener
    from grace_chat.frames import SyncedFrame, WelcomeFrame

# -- token ----------------------------------------------------------------------------------


def cmd_token(args: argparse.Namespace) -> int:
    user = user_id(args.user)
    ttl = number(args.ttl, "--ttl", 1)
    if args.data_dir or os.environ.get("GRACE_DATA_DIR"):
        where = target.resolve(None, args.data_dir, os.environ)
    else:  # the data directory of the server that is running (grace serve or grace demo)
        where = target.resolve(args.url, None, os.environ)
    settings = Settings.from_env(data_dir=where.data_dir)
    print(token_authority(settings).issue(user, admin=args.admin, ttl=ttl))
    return 0


# -- notify ---------------------------------------------------------------------------------


def cmd_notify(args: argparse.Namespace) -> int:
    import httpx

    user = user_id(args.user)
    try:
        data = json.loads(args.data) if args.data else {}
    except json.JSONDecodeError as exc:
        print(f"grace: --data is not valid JSON: {exc.msg}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("grace: --data must be a JSON object", file=sys.stderr)
        return 2
    where = client_target(args)
    token = client_token(args, where, "grace-cli", admin=True)
    body: dict[str, Any] = {"user_id": user, "type": args.type, "message": args.message}
    if data:
        body["data"] = data
    if args.badge:
        body["badge"] = args.badge
    try:
        response = httpx.post(
            f"{where.url.rstrip('/')}/api/notifications/publish",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        print(f"grace: cannot reach {where.url}: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 201:
        error = _error_of(response)
        print(f"grace: the server refused: {error}", file=sys.stderr)
        return 1
    frame = response.json()
    print(f"sent #{frame['seq']} to {user}: {frame['badge']} {frame['message']}")
    return 0


def _error_of(response: Any) -> str:
    try:
        err = response.json()["error"]
        return f"{err['code']}: {err['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


# -- tail -----------------------------------------------------------------------------------


def format_frame(frame: dict[str, Any]) -> str:
    try:
        moment = datetime.fromisoformat(frame["timestamp"].replace("Z", "+00:00")).astimezone()
        when = moment.strftime("%H:%M:%S")
    except (KeyError, ValueError, AttributeError):
        when = "--:--:--"
    return f"#{frame.get('seq')} {when} {frame.get('badge', '')} {frame.get('message', '')}"


def format_summary(summary: dict[str, Any]) -> str:
    """The away summary of a ``synced`` frame as one line, with the approvals still waiting."""
    line = f"{summary.get('text', '')} [#{summary.get('first_seq')}–#{summary.get('last_seq')}]"
    approvals = summary.get("approvals", [])
    waiting = [a["approval_id"] for a in approvals if a.get("state") == "pending"]
    if waiting:
        line += f" Waiting for you: {', '.join(waiting)}"
    return line


async def tail(
    url: str,
    token: str,
    since: int | None,
    as_json: bool,
    limit: int | None,
    retries: int = TAIL_RETRIES,
) -> int:
    """Print the user's notifications (``grace_chat.client``) until ``limit`` were printed or
    the stream cannot go on: the token refused (1), ``retries`` attempts in a row failed (1)."""
    from grace_chat.client import GraceClient, RetryPolicy
    from grace_chat.errors import BadURL, RetriesExhausted, Unauthenticated

    policy = RetryPolicy(max_attempts=retries, initial_delay=0.5, max_delay=15.0)
    seen = 0
    try:
        listener = _tail_listener(as_json)
        async with (
            GraceClient(url, token, retry=policy, listener=listener) as grace,
            contextlib.aclosing(grace.notifications(since)) as stream,
        ):
            async for notification in stream:
                frame = notification.model_dump(mode="json")
                line = json.dumps(frame, ensure_ascii=False) if as_json else format_frame(frame)
                print(line, flush=True)
                seen += 1
                if limit is not None and seen >= limit:
                    return 0
    except BadURL as exc:
        print(f"grace: {exc}", file=sys.stderr)
        return 2
    except Unauthenticated as exc:
        print(f"grace: the server refused the token: {exc.message}", file=sys.stderr)
        return 1
    except RetriesExhausted as exc:
        print(
            f"grace: gave up after {exc.attempts} attempts in a row to follow {url}: {exc.last}",
            file=sys.stderr,
        )
        return 1
    except GraceError as exc:
        print(f"grace: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _tail_listener(as_json: bool) -> StreamListener:
    from grace_chat.client import StreamListener

    class TailListener(StreamListener):
        """What ``grace tail`` says about the stream, on stderr (the away summary on stdout unless
        ``--json``: notifications stay alone on stdout then)."""

        def connected(self, welcome: WelcomeFrame, transport: str) -> None:
            over = " over SSE" if transport == "sse" else ""
            where = f"seq {welcome.seq}, {welcome.unread} unread"
            print(
                f"connected as {welcome.user_id}{over} ({where})",
                file=sys.stderr,
                flush=True,
            )

        def synced(self, synced: SyncedFrame) -> None:
            if synced.summary is not None:
                out = sys.stderr if as_json else sys.stdout
                print(format_summary(synced.summary.model_dump(mode="json")), file=out, flush=True)

        def disconnected(self, reason: str, attempt: int, retry_in: float) -> None:
            print(
                f"disconnected ({reason}); reconnecting in {retry_in:.1f}s (attempt {attempt + 1})",
                file=sys.stderr,
                flush=True,
            )

        def fell_back(self, reason: str) -> None:
            print(f"the WebSocket was refused ({reason}); following over SSE", file=sys.stderr)

        def epoch_changed(self, old: str, new: str) -> None:
            print("the server's log was replaced: following it from its start", file=sys.stderr)

    return TailListener()


def cmd_tail(args: argparse.Namespace) -> int:
    user = user_id(args.user)
    since = number(args.since, "--since", 0)
    count = number(args.count, "--count", 1)
    retries = number(args.retries, "--retries", 1)
    where = client_target(args)
    token = client_token(args, where, user)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(tail(where.url, token, since, args.json, count, retries or TAIL_RETRIES))
    return 0
