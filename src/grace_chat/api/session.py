"""What every streaming connection does, WebSocket or SSE: greet, replay, go live; and, for
WebSockets, the hello frame and the commands, whichever driver (native or ASGI) reads them.

The order is what makes delivery exactly-once without locks: the connection's outbox is attached
to the hub (``admit``, which also holds each user to ``max_connections_per_user``) *before* the
log is read, so a notification committed during the replay is either in the replay or queued
live; queued frames at or below the replayed ``seq`` are dropped by the outbox's ``floor``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from grace_chat.api.digest import away_digest
from grace_chat.auth import Identity
from grace_chat.commands import CommandContext
from grace_chat.errors import (
    BadRequest,
    Conflict,
    GraceError,
    RateLimited,
    TooLarge,
    Unauthenticated,
)
from grace_chat.hub.hub import TokenBucket
from grace_chat.hub.outbox import Outbox
from grace_chat.protocol import PROTOCOL_VERSION, Hello, dumps, error_frame, parse_command, ref_of

if TYPE_CHECKING:
    from grace_chat.app import Grace
    from grace_chat.config import Settings

log = logging.getLogger("grace.ws")

REPLAY_PAGE = 500
BINARY_REFUSED = "binary messages are not part of the protocol; send JSON text"
#: What a stream is told (error ``unauthenticated``, then close 4401) when its token expires.
TOKEN_EXPIRED = "token expired: sign in again"


def parse_since(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    try:
        value = int(raw or "")
    except ValueError:
        raise BadRequest("'since' must be a non-negative integer") from None
    if value < 0:
        raise BadRequest("'since' must be a non-negative integer")
    return value


def authenticate_hello(grace: Grace, raw: str | bytes) -> tuple[Identity, int | None]:
    """The identity (from Grace's own token) and resume point a connection's first frame
    (``hello``) gives.

    Raises ``GraceError`` (``Unauthenticated``, ``BadRequest``...) when it is not a valid hello.
    """
    token, since = hello_token(grace, raw)
    return grace.tokens.verify(token), since


def hello_token(grace: Grace, raw: str | bytes) -> tuple[str, int | None]:
    """The (unverified) token and resume point of a ``hello`` frame; raises ``GraceError`` when
    it is not a valid hello."""
    if isinstance(raw, bytes):
        raise BadRequest(BINARY_REFUSED)
    command = parse_command(raw, max_bytes=grace.settings.max_command_bytes)
    if not isinstance(command, Hello):
        raise Unauthenticated("the first frame must be hello with a token")
    if not command.token:
        raise Unauthenticated("hello needs a token")
    return command.token, command.since


def admit(grace: Grace, identity: Identity, outbox: Outbox) -> TokenBucket | None:
    """Attach ``outbox`` to the hub as one of the user's connections and return the command
    budget the user's connections share; ``None`` (nothing attached) when the user already has
    ``max_connections_per_user`` open: refuse the connection with ``too_many_connections``."""
    settings = grace.settings
    user = identity.user_id
    if not grace.hub.attach(user, outbox, limit=settings.max_connections_per_user):
        grace.metrics.limited("connections_per_user")
        return None
    return grace.hub.user_bucket(user, *settings.user_command_budget)


def too_many_connections(settings: Settings) -> RateLimited:
    """What a connection over ``max_connections_per_user`` is told before it is closed 4429."""
    return RateLimited(
        f"too many connections: at most {settings.max_connections_per_user} per user; "
        "close another tab or stream"
    )


async def handle_command(
    grace: Grace,
    ctx: CommandContext,
    bucket: TokenBucket,
    user_bucket: TokenBucket,
    raw: str | bytes,
) -> dict[str, Any]:
    """One client frame after hello: its reply frame, an error frame for anything wrong.

    ``bucket`` is the connection's command budget, ``user_bucket`` the one all the user's
    connections share (``admit``)."""
    settings = grace.settings
    try:
        if not bucket.take():
            grace.metrics.limited("connection_commands")
            raise RateLimited(
                f"too many commands: at most {settings.command_rate:g} per second on one connection"
            )
        if not user_bucket.take():
            grace.metrics.limited("user_commands")
            raise RateLimited(
                f"too many commands: at most {settings.user_command_budget[0]:g} per second "
                "from one user across their connections"
            )
        if isinstance(raw, bytes):
            raise BadRequest(BINARY_REFUSED)
        command = parse_command(raw, max_bytes=settings.max_command_bytes)
    except TooLarge as exc:
        return error_frame(exc)
    except GraceError as exc:
        return error_frame(exc, ref_of(raw))
    if isinstance(command, Hello):
        return error_frame(Conflict("already authenticated"), command.id)
    try:
        return await grace.commands.dispatch(ctx, command)
    except GraceError as exc:
        return error_frame(exc, command.id)
    except Exception:
        log.exception("command %s failed", command.type)
        return error_frame(GraceError("internal error"), command.id)


async def greet(
    grace: Grace, identity: Identity, outbox: Outbox, since: int | None
) -> AsyncIterator[list[tuple[int, bytes]]]:
    """Yield batches: welcome, the replay after ``since``, then synced (a batch per page of the
    replay; a replay shorter than a page comes in one batch with the welcome and synced).

    The caller has attached ``outbox`` (``admit``) before: frames committed meanwhile queue
    there. It sends each batch, then runs its writer on the outbox; the caller detaches.
    """
    user = identity.user_id
    head = await grace.store.head(user)
    welcome: dict[str, Any] = {
        "type": "welcome",
        "user_id": user,
        "epoch": grace.store.epoch,
        "seq": head.seq,
        "unread": head.unread,
        "protocol": PROTOCOL_VERSION,
    }
    batch = [(0, dumps(welcome))]
    gap = False
    cursor = head.seq
    away = away_digest(grace, identity, since)
    replayed = 0
    if since is not None:
        if since > head.seq:
            gap = True  # the client knows a log this server does not: a different epoch
        else:
            gap = since + 1 < head.first_seq
            cursor = since
            while True:
                page = await grace.store.replay(user, cursor, REPLAY_PAGE)
                batch += [(n.seq, n.frame) for n in page]
                replayed += len(page)
                away.add(page)
                if len(page) < REPLAY_PAGE:
                    break
                cursor = page[-1].seq
                yield batch
                batch = []
                await asyncio.sleep(0)  # an engine may read on the loop: others' turn between pages
            if page:
                cursor = page[-1].seq
    outbox.floor = cursor
    if since is not None:
        grace.metrics.replayed(replayed)
    synced: dict[str, Any] = {"type": "synced", "seq": cursor}
    if gap:
        synced["gap"] = True
    if summary := await away.summary():
        synced["summary"] = summary
    batch.append((0, dumps(synced)))
    yield batch  # the welcome, a short replay and synced in one write
