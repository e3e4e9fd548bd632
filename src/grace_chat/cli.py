"""``grace``: serve, token, notify, tail. The only place besides ``Settings.from_env`` that reads
the process environment (through it) and the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grace_chat.auth import TokenAuthority, load_or_create_secret
from grace_chat.config import Settings
from grace_chat.errors import ConfigError

if TYPE_CHECKING:
    from grace_chat.app import Grace

DEFAULT_URL = "http://127.0.0.1:8000"
log = logging.getLogger("grace_chat.cli")


def _settings(args: argparse.Namespace, **more: Any) -> Settings:
    return Settings.from_env(
        data_dir=Path(args.data_dir) if getattr(args, "data_dir", None) else None, **more
    )


def _authority(settings: Settings) -> TokenAuthority:
    return TokenAuthority(
        settings.secret or load_or_create_secret(settings.data_dir), settings.token_ttl_seconds
    )


# -- serve ----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(
        args,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        no_auth=True if args.no_auth else None,
        config_file=args.config,
    )
    return run_server(settings, args.user)


def cmd_demo(args: argparse.Namespace) -> int:
    from grace_chat.demo import demo_service, demo_settings, install_demo
    from grace_chat.extras import require

    for extra in ("learning", "guardian"):  # its scenes use both
        require(extra, "grace demo")

    base = Settings.from_env(
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        data_dir=Path(args.data_dir or ".grace-demo"),
    )
    service = demo_service()
    return run_server(
        demo_settings(base, service), args.user, lambda g: install_demo(g, service, args.pace)
    )


def run_server(
    settings: Settings, user: str, prepare: Callable[[Grace], object] | None = None
) -> int:
    """Serve until stopped; prints the URL (with a login token for ``user``) once ready.

    However it stops (SIGTERM, SIGINT or SIGHUP, a second one of them, an exception), Grace's
    own shutdown runs before the process ends: running tasks are stopped (shell tasks' whole
    process groups), recorded ``interrupted`` and their owners told. Stopped by a signal, the
    process then ends by that signal, as an unhandled one would end it. Everything the server
    writes to the data directory is private to the user running it (see ``docs/security.md``).
    """
    from grace_chat import logredact
    from grace_chat.api.app import create_app
    from grace_chat.api.server import base_url, listen, make_server
    from grace_chat.app import Grace
    from grace_chat.store.backends.sqlite_db import make_private
    from grace_chat.tasks import shell

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    started_with = os.umask(0o077)  # what Grace writes is the user's alone ...
    if shell.child_umask is None:
        shell.child_umask = started_with  # ... what its shell tasks write is as usual
    try:
        make_private(settings.data_dir)
    except OSError as exc:
        print(f"grace: cannot make {settings.data_dir} private: {exc}", file=sys.stderr)
        return 2
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        print(
            f"grace: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    port = sock.getsockname()[1]
    grace = Grace(settings)
    if prepare is not None:
        prepare(grace)
    app = create_app(grace)
    url = base_url(settings.host, port)
    # Grace starts before the server takes connections, so start-up problems (a data directory
    # in use, a bad grace.toml) are one clear line, not a server traceback.
    server = make_server(app, settings, lifespan="off")
    logredact.install()  # after make_server: uvicorn's logging is configured by then

    def again(count: int) -> None:
        grace.tasks.kill_processes()  # second signal: no grace period for task processes
        if count >= 3:  # third: do not wait for the rest of the shutdown either
            log.warning("stopping without finishing the shutdown; tasks are marked at restart")
            _end_by_signal(server.signals[0])

    async def serve() -> int:
        try:
            await grace.start()
        except ConfigError as exc:
            print(f"grace: {exc}", file=sys.stderr)
            return 2
        try:
            if not server.should_exit:  # a signal during start-up: do not begin serving
                token = grace.tokens.issue(user)
                print(f"Grace is running at {url}/?token={token}", flush=True)
                print(
                    f"  that link signs in as {user!r}: it is a secret, like a password "
                    "(anyone who has it can act as that user until it expires)",
                    flush=True,
                )
                print(f"  data: {settings.data_dir.resolve()}   (Ctrl-C stops)", flush=True)
                await server.serve(sockets=[sock])
        finally:
            try:
                await grace.stop()
            finally:
                grace.tasks.kill_processes()  # anything the shutdown did not reach
        return 0

    async def main() -> int:
        with server.stop_on_signals(again):
            code = await serve()
        if server.signals:
            # Now: the tasks are recorded, and the event loop's closing would wait for worker
            # threads (a Python task that never reaches a checkpoint) for as long as they run.
            _end_by_signal(server.signals[0])
        return code

    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    return int(uvloop.run(main()))


def _end_by_signal(sig: int) -> None:
    """End the process by ``sig``'s default action, so whoever sent it (a shell, a supervisor)
    sees the process ended by it."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)  # not reached: the default action of a stop signal ends the process


# -- token ----------------------------------------------------------------------------------


def cmd_token(args: argparse.Namespace) -> int:
    settings = _settings(args)
    print(_authority(settings).issue(args.user, admin=args.admin, ttl=args.ttl))
    return 0


# -- notify ---------------------------------------------------------------------------------


def cmd_notify(args: argparse.Namespace) -> int:
    import httpx

    try:
        data = json.loads(args.data) if args.data else {}
    except json.JSONDecodeError as exc:
        print(f"grace: --data is not valid JSON: {exc.msg}", file=sys.stderr)
        return 2
    token = args.token or _authority(_settings(args)).issue("grace-cli", admin=True, ttl=300)
    body: dict[str, Any] = {"user_id": args.user, "type": args.type, "message": args.message}
    if data:
        body["data"] = data
    if args.badge:
        body["badge"] = args.badge
    try:
        response = httpx.post(
            f"{args.url.rstrip('/')}/api/notifications/publish",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        print(f"grace: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 201:
        error = _error_of(response)
        print(f"grace: the server refused: {error}", file=sys.stderr)
        return 1
    frame = response.json()
    print(f"sent #{frame['seq']} to {args.user}: {frame['badge']} {frame['message']}")
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


async def tail(url: str, token: str, since: int | None, as_json: bool, limit: int | None) -> int:
    import websockets

    ws_url = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    ws_url += "/api/notifications/stream"
    last = since
    epoch: str | None = None
    seen = 0
    delay = 0.5
    while True:
        try:
            async with websockets.connect(ws_url, max_size=None) as ws:
                await ws.send(json.dumps({"type": "hello", "token": token, "since": last}))
                delay = 0.5
                async for message in ws:
                    for line in str(message).split("\n"):
                        frame = json.loads(line)
                        kind = frame.get("type")
                        if kind == "welcome":
                            if epoch is not None and frame["epoch"] != epoch:
                                last = None  # the server's log was replaced
                            epoch = frame["epoch"]
                            if last is None:
                                last = frame["seq"]
                            print(
                                f"connected as {frame['user_id']} (seq {frame['seq']}, "
                                f"{frame['unread']} unread)",
                                file=sys.stderr,
                                flush=True,
                            )
                        elif kind == "synced" and isinstance(frame.get("summary"), dict):
                            # notifications stay alone on stdout with --json
                            out = sys.stderr if as_json else sys.stdout
                            print(format_summary(frame["summary"]), file=out, flush=True)
                        elif kind == "error":
                            print(f"grace: {frame['code']}: {frame['message']}", file=sys.stderr)
                            if frame["code"] == "unauthenticated":
                                return 1
                        elif "seq" in frame and "message" in frame:
                            last = frame["seq"]
                            print(
                                json.dumps(frame, ensure_ascii=False)
                                if as_json
                                else format_frame(frame),
                                flush=True,
                            )
                            seen += 1
                            if limit is not None and seen >= limit:
                                return 0
        except (OSError, websockets.WebSocketException) as exc:
            code = getattr(getattr(exc, "rcvd", None), "code", None)
            if code == 4401:
                print("grace: the server refused the token", file=sys.stderr)
                return 1
            print(
                f"disconnected ({exc.__class__.__name__}); reconnecting in {delay:.1f}s",
                file=sys.stderr,
                flush=True,
            )
        await asyncio.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 15.0)


def cmd_tail(args: argparse.Namespace) -> int:
    token = args.token or _authority(_settings(args)).issue(args.user)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(tail(args.url, token, args.since, args.json, args.count))
    return 0


# -- entry point ----------------------------------------------------------------------------


#: What ``grace --help`` says Grace is.
ABOUT = (
    "Grace delivers notifications from your application's background work to the people using "
    "it, live over WebSocket, SSE and REST, and takes their commands and answers back. "
    "Start with 'grace serve' (or 'grace demo' to see it at work)."
)


def parser() -> argparse.ArgumentParser:
    from grace_chat import __version__

    p = argparse.ArgumentParser(prog="grace", description=ABOUT)
    p.add_argument("--version", action="version", version=f"grace-chat {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_dir(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data-dir", help="data directory (default: $GRACE_DATA_DIR or .grace)")

    s = sub.add_parser("serve", help="run the Grace server")
    s.add_argument("--host", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 8000; 0 picks a free one)")
    s.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    s.add_argument("--user", default="user", help="user whose login token is printed")
    s.add_argument("--config", help="grace.toml (default: DATA_DIR/grace.toml or ./grace.toml)")
    s.add_argument(
        "--no-auth",
        action="store_true",
        help="development only: identity from ?user_id=, loopback only",
    )
    data_dir(s)
    s.set_defaults(fn=cmd_serve)

    d = sub.add_parser("demo", help="run Grace with every system and a scripted scenario")
    d.add_argument("--host", help="address to bind (default 127.0.0.1)")
    d.add_argument("--port", type=int, help="port (default 8000; 0 picks a free one)")
    d.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    d.add_argument("--user", default="user", help="who watches the demo")
    d.add_argument("--data-dir", help="data directory (default .grace-demo)")
    d.add_argument("--pace", type=float, default=1.0, help="scene pacing factor (0.1: 10x faster)")
    d.set_defaults(fn=cmd_demo)

    t = sub.add_parser("token", help="mint a token for a user")
    t.add_argument("user")
    t.add_argument("--admin", action="store_true", help="may publish to any user")
    t.add_argument("--ttl", type=int, help="lifetime in seconds")
    data_dir(t)
    t.set_defaults(fn=cmd_token)

    n = sub.add_parser("notify", help="send a notification through a running server")
    n.add_argument("user")
    n.add_argument("type")
    n.add_argument("message")
    n.add_argument("--badge")
    n.add_argument("--data", help="JSON object")
    n.add_argument("--url", default=DEFAULT_URL)
    n.add_argument("--token", help="admin token (default: minted from the data directory)")
    data_dir(n)
    n.set_defaults(fn=cmd_notify)

    f = sub.add_parser("tail", help="follow a user's notifications live")
    f.add_argument("user")
    f.add_argument("--since", type=int, help="replay after this seq")
    f.add_argument("--json", action="store_true", help="print raw frames")
    f.add_argument("--count", type=int, help="exit after this many notifications")
    f.add_argument("--url", default=DEFAULT_URL)
    f.add_argument("--token", help="the user's token (default: minted from the data directory)")
    data_dir(f)
    f.set_defaults(fn=cmd_tail)
    from grace_chat.learning.cli import add_learn_command

    add_learn_command(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.fn(args)
    except ConfigError as exc:
        print(f"grace: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
