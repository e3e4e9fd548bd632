"""``grace serve`` and ``grace demo``: run the server in this process until a signal stops it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from grace_chat import target
from grace_chat.cli.options import port_number, settings_for, user_id
from grace_chat.config import Settings
from grace_chat.errors import ConfigError

if TYPE_CHECKING:
    from grace_chat.app import Grace

log = logging.getLogger("grace_chat.cli")


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_for(
        args,
        host=args.host,
        port=port_number(args.port),
        log_level=args.log_level,
        no_auth=True if args.no_auth else None,
        config_file=args.config,
    )
    return run_server(settings, user_id(args.user, "--user"))


def cmd_demo(args: argparse.Namespace) -> int:
    from grace_chat.demo import demo_service, demo_settings, install_demo
    from grace_chat.extras import require

    for extra in ("learning", "guardian"):  # its scenes use both
        require(extra, "grace demo")

    base = Settings.from_env(
        host=args.host,
        port=port_number(args.port),
        log_level=args.log_level,
        data_dir=Path(args.data_dir or target.DEFAULT_DATA_DIRS[1]),
    )
    user = user_id(args.user, "--user")
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
