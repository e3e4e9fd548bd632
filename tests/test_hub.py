"""Fan-out under a slow consumer: the stalled connection is cut off, nobody else waits for it."""

from __future__ import annotations

import asyncio
import secrets
import time

from websockets.exceptions import ConnectionClosed

from grace_chat.config import Settings
from grace_chat.hub.hub import Hub
from grace_chat.hub.outbox import Outbox
from tests.support import Client, Frame, serve, small_window_socket, until

#: Per notification for the stalled user: big enough (and incompressible) that a few dozen fill
#: every TCP buffer.
BLOB = secrets.token_urlsafe(150_000)
COUNT = 80


async def collect(client: Client, count: int, into: list[Frame]) -> None:
    while len(into) < count:
        frame = await client.recv(timeout=20)
        if "seq" in frame and "message" in frame:
            into.append(frame)


async def test_a_stalled_client_is_cut_off_while_others_keep_receiving(
    settings: Settings,
) -> None:
    async with serve(settings.with_(queue_max_frames=16)) as srv:
        hub = srv.grace.hub
        async with Client.connect(
            srv, "slow", max_queue=1, max_size=None, sock=small_window_socket(srv.url)
        ) as stalled:
            await stalled.welcome()
            (stalled_box,) = hub.connections("slow")
            async with (
                Client.connect(srv, "slow", max_size=None) as same_user,
                Client.connect(srv, "fast") as other_user,
            ):
                await same_user.welcome()
                await other_user.welcome()
                got_same: list[Frame] = []
                got_other: list[Frame] = []
                readers = [
                    asyncio.create_task(collect(same_user, COUNT, got_same)),
                    asyncio.create_task(collect(other_user, COUNT, got_other)),
                ]
                # the stalled client never reads from here on
                slowest = 0.0
                for i in range(COUNT):
                    started = time.monotonic()
                    await srv.grace.notify_user("slow", "test", f"s{i}", data={"blob": BLOB})
                    await srv.grace.notify_user("fast", "test", f"f{i}")
                    slowest = max(slowest, time.monotonic() - started)
                await until(
                    lambda: stalled_box not in hub.connections("slow"),
                    10,
                    f"the stalled connection to leave the hub ({stalled_box.overflowed=})",
                )
                await asyncio.wait_for(asyncio.gather(*readers), 20)
                assert slowest < 1.0, f"a publisher waited {slowest:.2f}s"
                # memory stays bounded: the stalled connection's queue was dropped
                assert stalled_box.overflowed and stalled_box.closed and len(stalled_box) == 0
                assert hub.connection_count("slow") == 1 and hub.connection_count("fast") == 1
                assert [f["seq"] for f in got_same] == list(range(1, COUNT + 1))
                assert [f["message"] for f in got_other] == [f"f{i}" for i in range(COUNT)]

            # the stalled client reads again: what was in flight, then the close
            received: list[Frame] = []
            try:
                while True:
                    frame = await stalled.recv(timeout=10)
                    if "seq" in frame and "message" in frame:
                        received.append(frame)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
        assert code == 4008
        seqs = [f["seq"] for f in received]
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) < COUNT
        last = seqs[-1] if seqs else 0

        async with Client.connect(srv, "slow", since=last, max_size=None) as again:
            _, replay, synced = await again.welcome()
        assert [f["seq"] for f in replay] == list(range(last + 1, COUNT + 1))
        assert synced["seq"] == COUNT and "gap" not in synced


def test_outbox_overflow_empties_the_queue_and_calls_back_once() -> None:
    calls: list[int] = []
    box = Outbox(3, lambda: calls.append(1))
    for seq in range(1, 4):
        box.push(seq, b"n%d" % seq)
    assert len(box) == 3 and not box.overflowed
    box.push(4, b"n4")
    box.push(5, b"n5")
    assert box.overflowed and box.closed and len(box) == 0 and calls == [1]


def test_hub_delivers_only_to_the_users_connections_and_drops_closed_ones() -> None:
    hub = Hub()
    ann1, ann2, bob = (Outbox(2, lambda: None) for _ in range(3))
    hub.attach("ann", ann1)
    hub.attach("ann", ann2)
    hub.attach("bob", bob)
    hub.deliver("ann", 1, b"a1")
    assert (len(ann1), len(ann2), len(bob)) == (1, 1, 0)
    hub.deliver("ann", 2, b"a2")
    hub.deliver("ann", 3, b"a3")  # both of ann's queues overflow
    assert hub.connection_count("ann") == 0 and hub.online_users() == ["bob"]
    hub.send_control("bob", b"ctl")
    assert len(bob) == 1


def test_the_hub_counts_each_users_connections_per_transport() -> None:
    hub = Hub()
    ws = [hub.outbox(8, lambda: None) for _ in range(2)]
    sse = hub.outbox(8, lambda: None, transport="sse")
    for box in ws:
        hub.attach("ann", box)
    hub.attach("bob", sse)
    assert hub.transports() == {"ann": {"websocket": 2}, "bob": {"sse": 1}}
    hub.detach("ann", ws[0])
    hub.detach("bob", sse)
    assert hub.transports() == {"ann": {"websocket": 1}}
