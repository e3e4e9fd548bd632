"""A service that follows one user's Grace notifications and answers their approvals.

It approves the action types it is told to trust and rejects every other, saying why; it keeps
its place in a cursor file, so when it restarts (a deploy, a crash) it resumes after the last
notification it handled: no approval is answered twice and none is skipped.

    export GRACE_URL=http://127.0.0.1:8000
    export GRACE_TOKEN=$(grace token ops-bot)      # the user whose approvals it answers
    python examples/approval_bot.py --trust restart_service,clear_cache

Stop it with Ctrl-C. ``--exit-after N`` stops after N decisions (its test uses that).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

from grace_chat.client import FileCursorStore, GraceClient, RetryPolicy, StreamListener
from grace_chat.errors import ClientError, Conflict, GraceError, NotFound
from grace_chat.frames import WelcomeFrame


class Log(StreamListener):
    def connected(self, welcome: WelcomeFrame, transport: str) -> None:
        print(f"following {welcome.user_id} over {transport} from seq {welcome.seq}", flush=True)

    def disconnected(self, reason: str, attempt: int, retry_in: float) -> None:
        print(f"disconnected ({reason}); retrying in {retry_in:.1f}s", flush=True)


async def run(url: str, token: str, trusted: set[str], cursor: str, exit_after: int | None) -> int:
    decisions = 0
    retry = RetryPolicy(max_attempts=30, max_delay=30.0)
    store = FileCursorStore(cursor)
    async with (
        GraceClient(url, token, retry=retry, cursor_store=store, listener=Log()) as grace,
        contextlib.aclosing(grace.notifications(since=0)) as stream,
    ):
        async for notification in stream:
            if notification.type != "approval_needed":
                continue
            approval_id = str(notification.data["approval_id"])
            action = str(notification.data.get("action_type"))
            try:
                if action in trusted:
                    reply = await grace.approve(approval_id, f"{action} is on the trusted list")
                else:
                    reply = await grace.reject(approval_id, f"{action} needs a person to decide")
            except (NotFound, Conflict) as exc:  # gone or expired meanwhile: nothing to answer
                print(f"{approval_id}: {exc.message}", flush=True)
                continue
            state = reply.approval.state
            print(f"{approval_id} ({action}): {state}", flush=True)
            decisions += 1
            if exit_after is not None and decisions >= exit_after:
                return 0
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trust", default="", help="action types to approve, comma-separated")
    parser.add_argument("--cursor", default="approval-bot.cursor.json", help="cursor file")
    parser.add_argument("--exit-after", type=int, help="stop after this many decisions")
    args = parser.parse_args()
    url = os.environ.get("GRACE_URL", "http://127.0.0.1:8000")
    token = os.environ.get("GRACE_TOKEN", "")
    trusted = {t.strip() for t in args.trust.split(",") if t.strip()}
    try:
        return asyncio.run(run(url, token, trusted, args.cursor, args.exit_after))
    except KeyboardInterrupt:
        return 0
    except (GraceError, ClientError) as exc:
        print(f"approval bot: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
