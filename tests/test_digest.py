""" "While you were away": the summary as a pure function, in the ``synced`` frame of a real server
(WebSocket and SSE), and over REST for any ``since``."""

from __future__ import annotations

import asyncio
from typing import Any

from grace_chat.config import Settings
from grace_chat.frames import AwaySummary
from grace_chat.notifications.digest import MAX_LISTED, ApprovalStatus, Digest, summarize
from grace_chat.notifications.model import Notification, Severity
from tests.support import Client, Running, serve
from tests.test_sse import sse

SEVERITY = {
    "task_completed": Severity.SUCCESS,
    "task_failed": Severity.ERROR,
    "approval_needed": Severity.WARNING,
    "approval_expired": Severity.WARNING,
    "action_approved": Severity.SUCCESS,
}


def note(seq: int, kind: str = "test", message: str = "m", **data: Any) -> Notification:
    return Notification(
        id=f"n{seq}",
        user_id="ann",
        seq=seq,
        type=kind,
        message=message,
        badge="🧪",
        severity=SEVERITY.get(kind, Severity.INFO),
        title="Grace Notification",
        timestamp=f"2026-01-15T10:{seq:02d}:00.000Z",
        data=data,
        actions=(),
    )


def ask(seq: int, approval_id: str, message: str = "may I?") -> Notification:
    return note(seq, "approval_needed", message, approval_id=approval_id, action_type="modify_file")


def status(approval_id: str, state: str, message: str = "may I?") -> ApprovalStatus:
    return ApprovalStatus(approval_id, state, message, "modify_file", "2026-01-15T11:00:00.000Z")


# -- the pure function ----------------------------------------------------------------------------


def test_counts_by_type_and_severity_and_the_range_it_covers() -> None:
    notes = [note(11), note(12, "task_completed", task_id="t1"), note(13), note(14, "task_failed")]
    s = summarize(notes, 10, {})
    assert s["count"] == 4 and s["since"] == 10
    assert (s["first_seq"], s["last_seq"]) == (11, 14)
    assert (s["first_at"], s["last_at"]) == (notes[0].timestamp, notes[-1].timestamp)
    assert s["by_type"] == {"test": 2, "task_completed": 1, "task_failed": 1}
    assert list(s["by_type"]) == ["test", "task_completed", "task_failed"]  # most first
    assert s["by_severity"] == {"info": 2, "success": 1, "warning": 0, "error": 1}
    AwaySummary.model_validate(s, strict=True)


def test_approvals_waiting_decided_and_expired_while_away() -> None:
    notes = [
        ask(1, "ap_wait", "deploy?"),
        ask(2, "ap_late", "drop the cache?"),
        ask(3, "ap_yes"),
        note(4, "action_approved", "approved", approval_id="ap_yes", state="approved"),
        note(5, "approval_expired", "expired", approval_id="ap_before", state="expired"),
    ]
    now = {
        "ap_wait": status("ap_wait", "pending", "deploy?"),
        "ap_late": status("ap_late", "expired", "drop the cache?"),
        "ap_before": status("ap_before", "expired", "asked before you left"),
        "ap_other": status("ap_other", "pending", "not mentioned: not listed"),
    }
    s = summarize(notes, 0, now)
    listed = [(a["approval_id"], a["state"], a["seq"]) for a in s["approvals"]]
    assert listed == [
        ("ap_wait", "pending", 1),
        ("ap_late", "expired", 2),
        ("ap_before", "expired", None),
        ("ap_yes", "approved", 3),  # no current state: the decision notification's word
    ]
    assert s["waiting"] == 1
    by_id = {a["approval_id"]: a for a in s["approvals"]}
    assert by_id["ap_wait"]["message"] == "deploy?"
    assert by_id["ap_before"]["message"] == "asked before you left"
    assert by_id["ap_wait"]["action_type"] == "modify_file"
    assert by_id["ap_wait"]["expires_at"] == "2026-01-15T11:00:00.000Z"
    assert s["text"] == (
        "5 notifications while you were away: 1 approval waits for you, 2 expired."
    )
    AwaySummary.model_validate(s, strict=True)


def test_tasks_that_ended_latest_end_first_failed() -> None:
    notes = [
        note(1, "task_started", task_id="t1"),
        note(2, "task_failed", "Backup failed: disk full", task_id="t1", task_type="backup",
             title="Backup", error="disk full"),
        note(3, "task_completed", "Deployment completed", task_id="t2", task_type="deployment"),
        note(4, "task_completed", "Backup completed", task_id="t1", task_type="backup"),
        note(5, "task_failed", "Report failed", task_id="t3"),
        note(6, "task_cancelled", "Task t4 has been cancelled", task_id="t4"),
    ]  # fmt: skip
    s = summarize(notes, 0, {})
    assert [(t["task_id"], t["state"], t["seq"]) for t in s["tasks"]] == [
        ("t3", "failed", 5),
        ("t4", "cancelled", 6),
        ("t2", "succeeded", 3),
        ("t1", "succeeded", 4),  # retried: its latest end counts
    ]
    assert s["tasks"][2]["task_type"] == "deployment" and s["tasks"][0]["task_type"] is None
    assert s["text"] == "6 notifications while you were away: 1 task failed, 2 finished."
    AwaySummary.model_validate(s, strict=True)


def test_muted_types_are_left_out_of_every_part() -> None:
    notes = [note(1, "task_progress"), ask(2, "ap1"), note(3, "task_failed", task_id="t1")]
    notes += [note(4, "task_progress")]
    s = summarize(notes, 0, {}, muted={"task_progress", "approval_needed", "task_failed"})
    assert s["count"] == 0 and s["by_type"] == {} and s["approvals"] == [] and s["tasks"] == []
    assert (s["first_seq"], s["last_seq"]) == (0, 0) and s["first_at"] is None
    assert s["text"] == "0 notifications while you were away."
    kept = summarize(notes, 0, {}, muted={"task_progress"})
    assert (kept["count"], kept["first_seq"], kept["last_seq"]) == (2, 2, 3)


def test_lists_are_capped_and_the_counts_are_not() -> None:
    notes = [ask(i, f"ap{i}") for i in range(1, 31)]
    notes += [note(30 + i, "task_failed", task_id=f"t{i}") for i in range(1, 31)]
    s = summarize(notes, 0, {})
    assert len(s["approvals"]) == len(s["tasks"]) == MAX_LISTED
    assert s["waiting"] == 30 and s["by_type"]["task_failed"] == 30
    assert "30 approvals wait for you; 30 tasks failed." in s["text"]


def test_page_by_page_equals_all_at_once() -> None:
    notes = [ask(1, "a")] + [note(i, "task_completed", task_id=f"t{i}") for i in range(2, 50)]
    digest = Digest(0)
    for start in range(0, len(notes), 7):
        digest.add(notes[start : start + 7])
    assert digest.count == 49 and digest.approval_ids() == ["a"]
    assert digest.summary({}) == summarize(notes, 0, {})


# -- on a real server -----------------------------------------------------------------------------


async def fill(srv: Running, user: str, count: int, kind: str = "test") -> None:
    for i in range(count):
        await srv.grace.notify_user(user, kind, f"missed {i}", data={"task_id": f"t{i}"})


async def approval_notified(srv: Running, user: str, **kwargs: Any) -> str:
    """Ask ``user`` for an approval and return its id once its notification is in their log."""
    async with Client.connect(srv, user) as watching:
        await watching.welcome()
        asked = await srv.grace.action_gateway.request_action(
            "modify_file", "learning_supervisor", {"file_path": "a.yaml"}, user_id=user, **kwargs
        )
        await watching.until("approval_needed")
        if kwargs.get("expires_in"):
            await watching.until("approval_expired")
    return str(asked["approval_id"])


async def test_synced_carries_the_summary_from_the_threshold_on(server: Running) -> None:
    assert server.grace.settings.away_digest_threshold == 20
    await fill(server, "ann", 18, "task_completed")
    async with Client.connect(server, "ann", since=0) as below:
        _, replay, synced = await below.welcome()
    assert len(replay) == 18 and "summary" not in synced
    waiting = await approval_notified(server, "ann")
    gone = await approval_notified(server, "ann", expires_in=0.05)
    async with Client.connect(server, "ann", since=0) as back:
        _, replay, synced = await back.welcome()
        summary = synced["summary"]
        assert len(replay) == 21 and summary["count"] == 21  # 18 + 2 requests + 1 expiry
        assert (summary["since"], summary["first_seq"], summary["last_seq"]) == (0, 1, 21)
        assert summary["by_type"] == {
            "task_completed": 18,
            "approval_needed": 2,
            "approval_expired": 1,
        }
        assert summary["waiting"] == 1
        states = {a["approval_id"]: a["state"] for a in summary["approvals"]}
        assert states == {waiting: "pending", gone: "expired"}
        assert summary["text"].startswith(
            "21 notifications while you were away: 1 approval waits for you, 1 expired; "
            "18 tasks finished."
        )
        # the connection goes live after it, as always
        await server.grace.notify_user("ann", "test", "live")
        (live,) = await back.notifications(1)
        assert live["seq"] == 22
    # resuming from part of the way: only what came after counts
    async with Client.connect(server, "ann", since=5) as later:
        _, replay, synced = await later.welcome()
    assert len(replay) == 17 and "summary" not in synced
    # a new connection that asks for no replay gets no summary
    async with Client.connect(server, "ann") as fresh:
        _, _, synced = await fresh.welcome()
    assert "summary" not in synced


async def test_the_threshold_is_a_setting_and_zero_turns_it_off(settings: Settings) -> None:
    async with serve(settings.with_(away_digest_threshold=3)) as srv:
        await fill(srv, "ann", 3)
        async with Client.connect(srv, "ann", since=0) as c:
            _, _, synced = await c.welcome()
        assert synced["summary"]["count"] == 3
        async with sse(srv, "ann", since=0) as stream:  # SSE greets the same way
            _, replay, over_sse = await stream.until_synced()
        assert len(replay) == 3 and over_sse.data["summary"] == synced["summary"]
    async with serve(settings.with_(away_digest_threshold=0)) as srv:
        async with Client.connect(srv, "ann", since=0) as c:
            _, replay, synced = await c.welcome()
        assert len(replay) == 3 and "summary" not in synced


async def test_muted_types_do_not_count_toward_the_threshold(settings: Settings) -> None:
    async with serve(settings.with_(away_digest_threshold=3)) as srv, srv.http() as http:
        await fill(srv, "ann", 2, "task_progress")
        await fill(srv, "ann", 2, "task_completed")
        put = await http.put(
            "/api/preferences/types/task_progress", json={"mode": "mute"}, headers=srv.auth("ann")
        )
        assert put.status_code == 200
        async with Client.connect(srv, "ann", since=0) as c:
            _, replay, synced = await c.welcome()
        assert len(replay) == 4 and "summary" not in synced  # 2 that count: below 3
        await fill(srv, "ann", 1, "task_failed")
        async with Client.connect(srv, "ann", since=0) as c:
            _, _, synced = await c.welcome()
        assert synced["summary"]["count"] == 3
        assert "task_progress" not in synced["summary"]["by_type"]


async def test_rest_summarizes_after_any_since(server: Running) -> None:
    await fill(server, "ann", 3, "task_failed")
    await fill(server, "bob", 2)
    waiting = await approval_notified(server, "ann")
    async with server.http() as http:

        async def get(since: int | None, user: str | None = "ann") -> Any:
            query = "" if since is None else f"?since={since}"
            headers = server.auth(user) if user else {}
            return await http.get(f"/api/notifications/summary{query}", headers=headers)

        whole = (await get(0)).json()
        assert whole["count"] == 4 and whole["waiting"] == 1
        assert [a["approval_id"] for a in whole["approvals"]] == [waiting]
        assert [t["state"] for t in whole["tasks"]] == ["failed"] * 3
        part = (await get(2)).json()
        assert (part["count"], part["first_seq"], part["last_seq"]) == (2, 3, 4)
        nothing = (await get(4)).json()
        assert nothing["count"] == 0 and nothing["approvals"] == nothing["tasks"] == []
        assert (await get(0, "bob")).json()["count"] == 2  # never another user's
        assert (await get(None)).status_code == 422
        assert (await get(-1)).status_code == 422
        assert (await get(0, None)).status_code == 401


async def test_a_long_absence_is_summarized_across_replay_pages(settings: Settings) -> None:
    async with serve(settings) as srv:
        draft = srv.grace.notifier.draft
        drafts = [
            draft("ann", "task_completed", f"done {i}", data={"task_id": f"t{i}"})
            for i in range(1_200)
        ]
        await asyncio.gather(*(srv.grace.store.append([d]) for d in drafts))
        async with Client.connect(srv, "ann", since=0) as c:
            _, replay, synced = await c.welcome()
    assert len(replay) == 1_200
    assert synced["summary"]["count"] == 1_200 and synced["summary"]["last_seq"] == 1_200
    assert len(synced["summary"]["tasks"]) == MAX_LISTED
