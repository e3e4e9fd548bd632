"""Grace under test: ``grace serve``'s embedded default (SQLite log, durable) plus the control API.

``python -m bench.grace_server --data-dir DIR`` prints ``LISTEN <port>``. With ``--database-url
postgresql://…`` and ``--redis-url redis://…`` it is one process of several sharing a PostgreSQL
log and a Redis backplane (the ``grace-cluster`` server kind), as ``grace serve`` would be with
``GRACE_DATABASE_URL`` and ``GRACE_REDIS_URL``. ``--data-dir`` may hold a log already (a copy
of a pre-filled one, ``bench.prefill``): the server opens it as ``grace serve`` would. The plans
publish through
``grace.notify_user`` (one notification) and ``grace.notifier.notify_users`` (one notification
for many users): both append to the durable log first, then fan out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import BADGE, MESSAGE, NOTIFICATION_TYPE, Publisher, control_routes, serve_uvicorn
from bench.common import stamp as _stamp
from bench.stalls import Stalls
from grace_chat.api.app import create_app
from grace_chat.api.server import make_server
from grace_chat.app import Grace
from grace_chat.config import Settings


class GraceSink:
    def __init__(self, grace: Grace) -> None:
        self.grace = grace

    async def one(self, user: str, k: int) -> None:
        await self.grace.notify_user(user, NOTIFICATION_TYPE, MESSAGE, BADGE, data=_stamp(k))

    async def many(self, users: list[str], k: int) -> None:
        await self.grace.notifier.notify_users(
            users, NOTIFICATION_TYPE, MESSAGE, BADGE, data=_stamp(k)
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--redis-prefix", default="grace")
    parser.add_argument(
        "--retention-count", type=int, default=None, help="entries kept per user (a long replay)"
    )
    args = parser.parse_args()
    shared: dict[str, object] = {}
    if args.retention_count is not None:
        shared["retention_count"] = args.retention_count
    if args.database_url:
        shared["database_url"] = args.database_url
    if args.redis_url:
        shared["redis_url"] = args.redis_url
        shared["redis_prefix"] = args.redis_prefix
    # The durable defaults stay on (sqlite_synchronous=FULL); no_auth gives ?user_id= on loopback.
    # Every benchmark client comes from 127.0.0.1: no cap on connections per address.
    settings = Settings.from_env(
        data_dir=Path(args.data_dir),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        no_auth=True,
        max_connections_per_address=0,
        **shared,
    )
    grace = Grace(settings)
    app = create_app(grace)
    for route in control_routes(Publisher(GraceSink(grace))):
        app.router.routes.append(route)
    app.router.routes.append(Stalls().route())
    serve_uvicorn(app, lambda a: make_server(a, settings))


if __name__ == "__main__":
    main()
