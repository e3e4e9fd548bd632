"""``grace``: serve, token, notify, tail. The only place besides ``Settings.from_env`` that reads
the process environment (through it) and the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grace_chat import target
from grace_chat.auth import TokenAuthority, check_user_id, load_or_create_secret
from grace_chat.config import Settings
from grace_chat.errors import ConfigError, GraceError

if TYPE_CHECKING:
    from grace_chat.app import Grace
    from grace_chat.client import StreamListener
    from grace_chat.frames import SyncedFrame, WelcomeFrame

DEFAULT_URL = target.DEFAULT_URL
log = logging.getLogger("grace_chat.cli")
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


def _settings(args: argparse.Namespace, **more: Any) -> Settings:
    return Settings.from_env(
        data_dir=Path(args.data_dir) if getattr(args, "data_dir", None) else None, **more
    )


def _authority(settings: Settings) -> TokenAuthority:
    return TokenAuthority(
        settings.secret or load_or_create_secret(settings.data_dir), settings.token_ttl_seconds
    )


def _number(raw: str | None, flag: str, low: int, high: int | None = None) -> int | None:
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


def _port(raw: str | None) -> int | None:
    return _number(raw, "--port", 0, 65535)


def _user(raw: str, flag: str = "USER") -> str:
    try:
        return check_user_id(raw)
    except GraceError as exc:
        raise ConfigError(f"{flag}: {exc.message}") from None


def _client_target(args: argparse.Namespace) -> target.Target:
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


def _client_token(
    args: argparse.Namespace, where: target.Target, user: str, *, admin: bool = False
) -> str:
    """``--token``, else ``$GRACE_TOKEN``, else one minted with the server's secret."""
    given = args.token or os.environ.get("GRACE_TOKEN")
    if given:
        return str(given)
    settings = Settings.from_env(data_dir=where.data_dir)
    return _authority(settings).issue(user, admin=admin, ttl=300 if admin else None)


# -- serve ----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(
        args,
        host=args.host,
        port=_port(args.port),
        log_level=args.log_level,
        no_auth=True if args.no_auth else None,
        config_file=args.config,
    )
    return run_server(settings, _user(args.user, "--user"))


def cmd_demo(args: argparse.Namespace) -> int:
    from grace_chat.demo import demo_service, demo_settings, install_demo
    from grace_chat.extras import require

    for extra in ("learning", "guardian"):  # its scenes use both
        require(extra, "grace demo")

    base = Settings.from_env(
        host=args.host,
        port=_port(args.port),
        log_level=args.log_level,
        data_dir=Path(args.data_dir or target.DEFAULT_DATA_DIRS[1]),
    )
    user = _user(args.user, "--user")
    service = demo_service()
    return run_server(
        demo_settings(base, service), user, lambda g: install_demo(g, service, args.pace)
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
    from grace_chat import logformat, logredact
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
    logformat.install(settings.log_format)  # after make_server, as the redaction
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
                try:  # before the banner: whoever reads it finds the record too
                    target.announce(settings.data_dir, url)  # for the client commands
                except OSError as exc:
                    log.warning("cannot record the server's URL for the client commands: %s", exc)
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
            target.withdraw(settings.data_dir)
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
    user = _user(args.user)
    ttl = _number(args.ttl, "--ttl", 1)
    if args.data_dir or os.environ.get("GRACE_DATA_DIR"):
        where = target.resolve(None, args.data_dir, os.environ)
    else:  # the data directory of the server that is running (grace serve or grace demo)
        where = target.resolve(args.url, None, os.environ)
    settings = Settings.from_env(data_dir=where.data_dir)
    print(_authority(settings).issue(user, admin=args.admin, ttl=ttl))
    return 0


# -- notify ---------------------------------------------------------------------------------


def cmd_notify(args: argparse.Namespace) -> int:
    import httpx

    user = _user(args.user)
    try:
        data = json.loads(args.data) if args.data else {}
    except json.JSONDecodeError as exc:
        print(f"grace: --data is not valid JSON: {exc.msg}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("grace: --data must be a JSON object", file=sys.stderr)
        return 2
    where = _client_target(args)
    token = _client_token(args, where, "grace-cli", admin=True)
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
    user = _user(args.user)
    since = _number(args.since, "--since", 0)
    count = _number(args.count, "--count", 1)
    retries = _number(args.retries, "--retries", 1)
    where = _client_target(args)
    token = _client_token(args, where, user)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(tail(where.url, token, since, args.json, count, retries or TAIL_RETRIES))
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

    def client_options(sp: argparse.ArgumentParser, token: str) -> None:
        sp.add_argument("--url", help=URL_HELP)
        sp.add_argument(
            "--token",
            help=f"{token} (default: $GRACE_TOKEN, else minted with the "
            "secret of the server's data directory)",
        )
        sp.add_argument("--data-dir", help=CLIENT_DATA_DIR_HELP)

    s = sub.add_parser(
        "serve",
        help="run the Grace server",
        description="Run the Grace server (data in DATA_DIR, default .grace) and print a "
        "sign-in link for --user.",
    )
    s.add_argument("--host", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", help="port (default 8000; 0 picks a free one)")
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

    d = sub.add_parser(
        "demo",
        help="run Grace with every system and a scripted scenario",
        description="Run the server with every system and a scripted scenario (data in "
        ".grace-demo); scripts/serve runs this. grace token, notify, tail and learn find it.",
    )
    d.add_argument("--host", help="address to bind (default 127.0.0.1)")
    d.add_argument("--port", help="port (default 8000; 0 picks a free one)")
    d.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    d.add_argument("--user", default="user", help="who watches the demo")
    d.add_argument("--data-dir", help="data directory (default .grace-demo)")
    d.add_argument("--pace", type=float, default=1.0, help="scene pacing factor (0.1: 10x faster)")
    d.set_defaults(fn=cmd_demo)

    t = sub.add_parser(
        "token",
        help="mint a token for a user",
        description="Print a token for USER signed with the running server's secret (the one "
        "in its data directory), to sign in or to pass to --token / $GRACE_TOKEN.",
    )
    t.add_argument("user")
    t.add_argument("--admin", action="store_true", help="may publish to any user")
    t.add_argument("--ttl", help="lifetime in seconds")
    t.add_argument("--url", help="the server whose secret signs it (default: the running one)")
    t.add_argument("--data-dir", help=CLIENT_DATA_DIR_HELP)
    t.set_defaults(fn=cmd_token)

    n = sub.add_parser(
        "notify",
        help="send a notification through a running server",
        description="Send USER a notification of TYPE with MESSAGE through a running server.",
    )
    n.add_argument("user")
    n.add_argument("type")
    n.add_argument("message")
    n.add_argument("--badge")
    n.add_argument("--data", help="JSON object")
    client_options(n, "an admin token")
    n.set_defaults(fn=cmd_notify)

    f = sub.add_parser(
        "tail",
        help="follow a user's notifications live",
        description="Print USER's notifications as they come, resuming across disconnects and "
        "server restarts; gives up after --retries failed attempts in a row.",
    )
    f.add_argument("user")
    f.add_argument("--since", help="replay after this seq")
    f.add_argument("--json", action="store_true", help="print raw frames")
    f.add_argument("--count", help="exit after this many notifications")
    f.add_argument(
        "--retries",
        default=str(TAIL_RETRIES),
        help=f"failed attempts in a row before giving up (default {TAIL_RETRIES})",
    )
    client_options(f, "the user's token")
    f.set_defaults(fn=cmd_tail)
    from grace_chat.learning.cli import add_learn_command

    add_learn_command(sub)
    from grace_chat.celery_events import add_celery_events_command

    add_celery_events_command(sub)
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
