"""The outbox's push mode: one write per connection per loop turn, back-pressure, overflow."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence

import pytest

from grace_chat.config import Settings
from grace_chat.hub.hub import Hub
from grace_chat.hub.outbox import MAX_BATCH_FRAMES, Flusher, Outbox, pack
from tests.support import Client, serve


class RecordingSink:
    """A ``FrameSink`` that records each write; ``room`` is how many writes it takes before
    reporting a full buffer."""

    def __init__(self, room: int = 1_000_000) -> None:
        self.writes: list[list[bytes]] = []
        self.room = room
        self.drain = asyncio.Event()

    def write(self, messages: Sequence[bytes]) -> bool:
        self.writes.append(list(messages))
        return len(self.writes) < self.room

    async def drained(self) -> None:
        await self.drain.wait()


def frames_of(writes: list[list[bytes]]) -> list[bytes]:
    return [f for write in writes for message in write for f in message.split(b"\n")]


async def test_frames_pushed_in_one_loop_turn_leave_in_one_write_in_order() -> None:
    sink = RecordingSink()
    box = Outbox(100, lambda: None, Flusher())
    box.attach_sink(sink)
    for seq in range(1, 6):
        box.push(seq, b"n%d" % seq)
    box.push(0, b"ctl")
    assert sink.writes == []  # nothing is written before the turn ends
    await asyncio.sleep(0)
    assert sink.writes == [[b"n1\nn2\nn3\nn4\nn5\nctl"]]
    box.push(6, b"n6")
    await asyncio.sleep(0)
    assert sink.writes[1] == [b"n6"]


async def test_frames_queued_before_the_sink_are_written_when_it_attaches_above_the_floor() -> None:
    sink = RecordingSink()
    box = Outbox(100, lambda: None, Flusher())
    for seq in range(1, 5):
        box.push(seq, b"n%d" % seq)
    box.floor = 2  # the replay already sent 1 and 2
    box.attach_sink(sink)
    assert frames_of(sink.writes) == [b"n3", b"n4"]


async def test_a_blocked_sink_queues_until_drained_then_overflows_if_it_never_is() -> None:
    overflowed: list[int] = []
    sink = RecordingSink(room=1)
    box = Outbox(5, lambda: overflowed.append(1), Flusher())
    box.attach_sink(sink)
    box.push(1, b"n1")
    await asyncio.sleep(0)
    assert box.blocked  # the sink said "full"
    for seq in range(2, 5):
        box.push(seq, b"n%d" % seq)
    await asyncio.sleep(0)
    assert len(sink.writes) == 1 and len(box) == 3  # held back while blocked
    sink.room = 10
    box.unblock()
    assert not box.blocked
    assert frames_of(sink.writes) == [b"n1", b"n2", b"n3", b"n4"]

    sink.room = 0  # full again, and the client never reads
    box.push(5, b"n5")
    await asyncio.sleep(0)
    for seq in range(6, 12):
        box.push(seq, b"n%d" % seq)
    assert box.overflowed and box.closed and len(box) == 0 and overflowed == [1]


def test_pack_joins_frames_by_newline_at_most_max_batch_frames_per_message() -> None:
    frames = [b"f%d" % i for i in range(MAX_BATCH_FRAMES * 2 + 1)]
    messages = pack(frames)
    assert len(messages) == 3
    assert [m.count(b"\n") + 1 for m in messages] == [MAX_BATCH_FRAMES, MAX_BATCH_FRAMES, 1]
    assert b"\n".join(messages).split(b"\n") == frames
    assert pack([b"one"]) == [b"one"]


async def test_the_hub_flushes_every_connection_once_per_turn() -> None:
    hub = Hub()
    sinks = [RecordingSink() for _ in range(3)]
    for i, sink in enumerate(sinks):
        box = hub.outbox(100, lambda: None)
        box.attach_sink(sink)
        hub.attach("ann" if i < 2 else "bob", box)
    for seq in range(1, 4):
        hub.deliver("ann", seq, b"a%d" % seq)
    hub.deliver("bob", 1, b"b1")
    await asyncio.sleep(0)
    assert [s.writes for s in sinks] == [[[b"a1\na2\na3"]], [[b"a1\na2\na3"]], [[b"b1"]]]


@pytest.mark.parametrize("grace_protocol", [True, False], ids=["native", "asgi"])
async def test_a_commit_of_many_notifications_arrives_packed_in_order(
    settings: Settings, grace_protocol: bool
) -> None:
    """Over a real socket: on Grace's server one commit's frames share one write; under a stock
    ASGI server the same frames arrive, in order, through the ASGI route."""
    async with serve(settings, plain_asgi=not grace_protocol) as srv:
        async with Client.connect(srv, "ann") as client:
            await client.welcome()
            drafts = [srv.grace.notifier.draft("ann", "test", f"m{i}") for i in range(300)]
            await srv.grace.notifier.notify_many(drafts)
            messages: list[str] = []
            frames: list[dict[str, object]] = []
            while len(frames) < 300:
                message = str(await asyncio.wait_for(client.ws.recv(), 5))
                messages.append(message)
                frames.extend(json.loads(line) for line in message.split("\n"))
        assert [f["seq"] for f in frames] == list(range(1, 301))
        assert [f["message"] for f in frames] == [f"m{i}" for i in range(300)]
        # at most MAX_BATCH_FRAMES per message, so 300 frames take at least two
        assert 2 <= len(messages) <= 300
        if grace_protocol:
            assert len(messages) == 2


async def test_one_notification_for_several_users_reaches_each_with_its_own_seq(
    settings: Settings,
) -> None:
    async with serve(settings) as srv:
        await srv.grace.notify_user("ann", "test", "ann's own first")
        async with Client.connect(srv, "ann") as ann, Client.connect(srv, "bob") as bob:
            await ann.welcome()
            await bob.welcome()
            posted = await srv.grace.notifier.notify_users(
                ["ann", "bob", "ann"], "task_completed", "Nightly report is ready", data={"k": 1}
            )
            (got_ann,) = await ann.notifications(1)
            (got_bob,) = await bob.notifications(1)
        assert posted.draft.recipients == ("ann", "bob")  # a repeated user gets it once
        assert (got_ann["seq"], got_bob["seq"]) == (2, 1)
        assert got_ann["id"] == got_bob["id"] == posted.id
        for frame in (got_ann, got_bob):
            assert frame["message"] == "Nightly report is ready" and frame["data"] == {"k": 1}
            assert frame["badge"] == "✅" and frame["read"] is False


async def test_an_idle_connection_holds_no_task_on_grace_protocol(settings: Settings) -> None:
    """The stream is served by the protocol's callbacks: idle connections cost no task, whereas
    the same stream through ASGI keeps tasks per connection."""
    for plain in (False, True):
        async with serve(settings, plain_asgi=plain) as srv:
            before = len(asyncio.all_tasks())
            async with contextlib.AsyncExitStack() as stack:
                for i in range(10):
                    client = await stack.enter_async_context(Client.connect(srv, f"u{i}"))
                    await client.welcome()
                added = len(asyncio.all_tasks()) - before
                # the test's own clients hold tasks of their own: count theirs out
                client_tasks = sum(
                    1
                    for t in asyncio.all_tasks()
                    if "websockets/asyncio" in t.get_coro().cr_code.co_filename
                )
                server_tasks = added - client_tasks
            if plain:
                assert server_tasks >= 10, server_tasks
            else:
                assert server_tasks == 0, server_tasks


async def test_notify_users_refuses_bad_recipient_lists_with_a_clear_error(
    settings: Settings,
) -> None:
    from grace_chat import Grace
    from grace_chat.errors import BadRequest

    async with Grace(settings, systems=False) as grace:
        for bad in ([], ["ann", ""], ["ann", 7], None, "", {"ann": 1}):
            with pytest.raises(BadRequest, match="user_id"):
                await grace.notifier.notify_users(bad, "test", "hello")  # type: ignore[arg-type]
        assert (await grace.store.head("ann")).seq == 0  # nothing was stored for anyone
