"""``grace celery-events``: the Grace server, with the tasks of an existing Celery app in the chat.

It runs what ``grace serve`` runs and, inside it, the Celery events bridge
(``grace_chat.tasks.executors.celery_bridge``) on the app's broker. See ``docs/celery.md``.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_celery_events_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``celery-events`` to the sub-commands (``subparsers`` from ``add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "celery-events", help="run the server and show an existing Celery app's tasks in the chat"
    )
    p.add_argument("--broker", help="the Celery broker URL (default: $GRACE_CELERY_BROKER_URL)")
    p.add_argument("--app", help="module:app to take the broker from (default: $GRACE_CELERY_APP)")
    p.add_argument(
        "--user",
        default="user",
        help="whose tasks they are when none names a user, and whose login token is printed",
    )
    p.add_argument(
        "--user-kwarg",
        default="grace_user",
        help="the task keyword argument that names the user (default: grace_user)",
    )
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--config", help="grace.toml (default: DATA_DIR/grace.toml or ./grace.toml)")
    p.add_argument("--data-dir", help="data directory (default: $GRACE_DATA_DIR or .grace)")
    p.set_defaults(fn=cmd_celery_events)
    return p


def cmd_celery_events(args: argparse.Namespace) -> int:
    from grace_chat.app import Grace
    from grace_chat.cli.options import settings_for
    from grace_chat.cli.server import run_server
    from grace_chat.errors import ConfigError

    settings = settings_for(
        args, host=args.host, port=args.port, log_level=args.log_level, config_file=args.config
    )
    broker = args.broker or settings.celery_broker_url
    app_path = args.app or settings.celery_app
    if not broker and not app_path:
        raise ConfigError("grace celery-events needs --broker URL or --app module:app")
    try:
        from grace_chat.tasks.executors.celery import celery_app
        from grace_chat.tasks.executors.celery_bridge import CeleryBridge
    except ImportError as exc:
        raise ConfigError(
            f"grace celery-events needs Celery, which is not installed ({exc.name}): "
            "pip install 'grace-chat[celery]'"
        ) from None
    app = celery_app(broker, None, app_path, need_results=False)

    def prepare(grace: Grace) -> None:
        bridge = CeleryBridge(
            app, grace.tasks, default_user=args.user, user_kwarg=args.user_kwarg or None
        )
        grace.add_component(bridge)

    return run_server(settings, args.user, prepare)
