"""``grace``'s command line: every sub-command and its options, and ``main``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from grace_chat.cli.client_commands import cmd_notify, cmd_tail, cmd_token
from grace_chat.cli.options import CLIENT_DATA_DIR_HELP, TAIL_RETRIES, URL_HELP
from grace_chat.cli.server import cmd_demo, cmd_serve
from grace_chat.errors import ConfigError

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
    from grace_chat.cli.celery_events import add_celery_events_command

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
