"""The approval gateway: the seed's approval flow, decisions, expiry, authorization, audit."""

from __future__ import annotations

import asyncio
import time

import pytest

from grace_chat import action_gateway
from grace_chat.approvals.model import Approval, Policy
from grace_chat.config import Settings
from grace_chat.errors import BadRequest, ConfigError
from tests.support import Client, Running, serve

pytestmark = pytest.mark.engines


async def test_seed_approval_flow_user_approves_and_the_waiting_caller_proceeds(
    server: Running,
) -> None:
    async with Client.connect(server, "user") as c:
        await c.welcome()
        caller = asyncio.create_task(
            action_gateway.request_action(
                action_type="modify_file",
                agent="learning_supervisor",
                params={"file_path": "config.yaml"},
                trace_id="auto_learn_123",
                wait=10,
            )
        )
        (card,) = await c.notifications(1)
        assert card["type"] == "approval_needed" and card["badge"] == "⚠️"
        assert card["message"] == "Learning supervisor wants to modify config.yaml"
        assert [a["id"] for a in card["actions"]] == ["view_details", "approve", "reject"]
        assert [a["label"] for a in card["actions"]] == ["View Details", "Approve", "Reject"]
        assert card["data"]["trace_id"] == "auto_learn_123"
        assert card["data"]["params"] == {"file_path": "config.yaml"}
        approval_id = card["data"]["approval_id"]
        assert not caller.done()

        reply = await c.command({"type": "approve", "approval_id": approval_id})
        assert reply["type"] == "approval" and reply["decided"] is True
        assert reply["approval"]["state"] == "approved"
        assert reply["approval"]["decided_by"] == "user"
        result = await asyncio.wait_for(caller, 5)
        assert result["approved"] is True and result["status"] == "approved"
        (announced,) = await c.notifications(1)
        assert announced["type"] == "action_approved"
        assert announced["message"] == "Action approved: modify_file"
        assert announced["data"]["approval_id"] == approval_id

        # the first decision wins; a later one gets the stored outcome
        late = await c.command({"type": "reject", "approval_id": approval_id, "reason": "no"})
        assert late["decided"] is False and late["approval"]["state"] == "approved"

    async with server.http() as http:
        audit = (await http.get("/api/audit", headers=server.auth("user"))).json()["entries"]
    events = [e["event"] for e in audit if e["approval_id"] == approval_id]
    assert events == ["decision_ignored", "approved", "requested"]  # newest first
    approved = next(e for e in audit if e["event"] == "approved")
    assert approved["actor"] == "user" and approved["channel"] == "ws"
    assert approved["trace_id"] == "auto_learn_123"
    assert approved["params"] == {"file_path": "config.yaml"}


async def test_without_wait_the_caller_gets_pending_at_once_as_the_seed_expects(
    server: Running,
) -> None:
    result = await server.grace.action_gateway.request_action(
        action_type="deploy_service", agent="mission_control", trace_id="t1"
    )
    assert result["approved"] is False and result["status"] == "pending"
    assert result["approval_id"]


async def test_rejection_with_reason_over_rest(server: Running) -> None:
    async with Client.connect(server, "user") as c:
        await c.welcome()
        result = await server.grace.action_gateway.request_action(
            "delete_branch", "self_heal", {"name": "main"}
        )
        (card,) = await c.notifications(1)
        approval_id = result["approval_id"]
        assert card["data"]["approval_id"] == approval_id
        async with server.http() as http:
            response = await http.post(
                f"/api/approvals/{approval_id}/reject",
                json={"reason": "not on main"},
                headers=server.auth("user"),
            )
            assert response.status_code == 200
            assert response.json()["approval"]["state"] == "rejected"
            assert response.json()["approval"]["reason"] == "not on main"
        (announced,) = await c.notifications(1)
    assert announced["type"] == "action_rejected"
    assert announced["message"] == "Action rejected: delete_branch (not on main)"


async def test_unanswered_approvals_expire_as_rejections(server: Running) -> None:
    async with Client.connect(server, "user") as c:
        await c.welcome()
        result = await server.grace.action_gateway.request_action(
            "restart_service", "guardian", {"service": "api"}, expires_in=0.3, wait=5
        )
        assert result["approved"] is False and result["status"] == "expired"
        types = [f["type"] for f in await c.notifications(2)]
        assert types == ["approval_needed", "approval_expired"]
        late = await c.command({"type": "approve", "approval_id": result["approval_id"]})
        assert late["decided"] is False and late["approval"]["state"] == "expired"


async def test_only_the_approvals_user_or_an_admin_may_decide(server: Running) -> None:
    result = await server.grace.action_gateway.request_action(
        "modify_file", "learning_supervisor", {"file_path": "a.txt"}, user_id="ann"
    )
    approval_id = result["approval_id"]
    async with Client.connect(server, "bob") as bob:
        await bob.welcome()
        for kind in ("approve", "reject"):
            reply = await bob.command({"type": kind, "approval_id": approval_id})
            assert (reply["type"], reply["code"]) == ("error", "forbidden")
        missing = await bob.command({"type": "approve", "approval_id": "appr_nope"})
        assert missing["code"] == "not_found"
    async with server.http() as http:
        mine = await http.get("/api/approvals?state=pending", headers=server.auth("bob"))
        assert mine.json()["approvals"] == []
        seen = await http.get(f"/api/approvals/{approval_id}", headers=server.auth("bob"))
        assert seen.status_code == 403
        admin = await http.post(
            f"/api/approvals/{approval_id}/approve", headers=server.auth("root", admin=True)
        )
        assert admin.json()["approval"]["state"] == "approved"
        assert admin.json()["approval"]["decided_by"] == "root"


async def test_policy_allows_and_denies_without_asking(settings: Settings) -> None:
    file = {"approvals": {"default": "ask", "actions": {"read_*": "allow", "drop_db": "deny"}}}
    async with serve(settings.with_(file={**settings.file, **file})) as srv:
        gateway = srv.grace.action_gateway
        allowed = await gateway.request_action("read_file", "learning", {"path": "x"})
        denied = await gateway.request_action("drop_db", "self_heal")
        assert (allowed["approved"], allowed["status"]) == (True, "allowed")
        assert (denied["approved"], denied["status"]) == (False, "denied")
        async with srv.http() as http:
            audit = await http.get("/api/audit", headers=srv.auth("root", admin=True))
        events = [(e["action_type"], e["event"]) for e in audit.json()["entries"]]
        assert ("read_file", "allowed") in events and ("drop_db", "denied") in events


async def test_status_reports_tasks_and_waiting_approvals(server: Running) -> None:
    gate = asyncio.Event()

    async def deploy() -> None:
        await gate.wait()

    await server.grace.start_background_task("deployment", "user", deploy, "deploy_1")
    await server.grace.action_gateway.request_action("modify_file", "learning_supervisor")
    async with Client.connect(server, "user") as c:
        await c.welcome()
        status = await c.command({"type": "status"})
    gate.set()
    assert status["type"] == "status"
    assert [t["task_id"] for t in status["tasks"]["running"]] == ["deploy_1"]
    assert len(status["approvals"]["pending"]) == 1
    assert "running 1 task: Deployment" in status["summary"]
    assert "1 approval is waiting for you: modify_file" in status["summary"]


async def test_durations_beyond_the_bound_are_refused_before_anything_is_stored(
    server: Running,
) -> None:
    admin = {**server.auth("root", admin=True), "Content-Type": "application/json"}
    body = '{"action_type": "modify_file", "agent": "ops", "user_id": "ann", "expires_in": %s}'
    async with server.http() as http:
        for raw in ("1e12", "1e308", "Infinity", "-Infinity", "NaN", "0", "-5", "2592001"):
            response = await http.post("/api/approvals", content=body % raw, headers=admin)
            assert response.status_code == 422, (raw, response.text)
            assert response.json()["error"]["code"] == "bad_request"
        kept = await http.post("/api/approvals", content=body % "2592000", headers=admin)
        assert kept.status_code == 201, kept.text
        for headers in (admin, server.auth("ann")):
            listing = await http.get("/api/approvals", headers=headers)
            assert listing.status_code == 200, listing.text
            (only,) = listing.json()["approvals"]
            assert only["approval_id"] == kept.json()["approval_id"]
        audit = (await http.get("/api/audit", headers=admin)).json()["entries"]
        assert [e["event"] for e in audit] == ["requested"]

    gateway = server.grace.action_gateway
    for bad in (1e12, 1e308, float("inf"), float("nan"), 0, -1, True):
        with pytest.raises(BadRequest, match="30 days"):
            await gateway.request_action("modify_file", "ops", expires_in=bad)
    for bad_wait in (float("inf"), float("nan"), -1.0, 1e12):
        with pytest.raises(BadRequest, match="wait"):
            await gateway.request_action("modify_file", "ops", wait=bad_wait)
    assert len(await gateway.store.list_approvals(None)) == 1
    with pytest.raises(ConfigError, match="30 days"):
        Policy.from_config({"expire_after": 1e12})


async def test_an_unreadable_stored_approval_is_skipped_and_logged_once(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """An approval stored with an expiry no clock can show (as happened before durations were
    bounded) must not break listings, the status or the chat, before or after a restart."""
    async with serve(settings) as srv:
        gateway = srv.grace.action_gateway
        broken = Approval("appr_broken", "ann", "modify_file", "ops", expires_at=time.time() + 1e12)
        await gateway.store.create(broken)
        good = await gateway.request_action("delete_branch", "ops", user_id="ann")

    for _ in range(2):  # twice: across a restart
        caplog.clear()
        async with serve(settings) as srv, srv.http() as http:
            for headers in (srv.auth("ann"), srv.auth("root", admin=True), srv.auth("ann")):
                listing = await http.get("/api/approvals", headers=headers)
                assert listing.status_code == 200, listing.text
                ids = [a["approval_id"] for a in listing.json()["approvals"]]
                assert ids == [good["approval_id"]]
            missing = await http.get("/api/approvals/appr_broken", headers=srv.auth("ann"))
            assert missing.status_code == 404
            status = await http.get("/api/status", headers=srv.auth("ann"))
            assert status.status_code == 200 and "1 approval is waiting" in status.json()["summary"]
        logged = [r for r in caplog.records if "appr_broken" in r.getMessage()]
        assert len(logged) == 1, [r.getMessage() for r in logged]

    async with serve(settings) as srv, srv.http() as http:
        said = await http.post(
            "/api/unified/chat", json={"text": "approve it"}, headers=srv.auth("ann")
        )
        assert said.status_code == 200, said.text
        assert said.json()["intent"] == "approve"
        assert said.json()["data"]["approval"]["approval_id"] == good["approval_id"]
        assert said.json()["data"]["decided"] is True


async def test_request_approval_is_request_action_under_the_briefs_name(server: Running) -> None:
    gateway = server.grace.action_gateway
    assert gateway.request_approval.__doc__ and "request_action" in gateway.request_approval.__doc__
    async with Client.connect(server, "user") as c:
        await c.welcome()
        caller = asyncio.create_task(
            action_gateway.request_approval(
                action_type="modify_file",
                agent="learning_supervisor",
                params={"file_path": "config.yaml"},
                wait=10,
            )
        )
        (card,) = await c.notifications(1)
        assert card["message"] == "Learning supervisor wants to modify config.yaml"
        reply = await c.command({"type": "approve", "approval_id": card["data"]["approval_id"]})
        assert reply["approval"]["state"] == "approved"
        result = await asyncio.wait_for(caller, 5)
    assert result["approved"] is True and result["approval_id"] == card["data"]["approval_id"]
    quick = await gateway.request_approval("delete_branch", "self_heal", {"name": "x"})
    assert quick["status"] == "pending" and quick["approved"] is False


async def test_post_approvals_with_wait_answers_once_decided_or_expired(server: Running) -> None:
    admin = server.auth("svc", admin=True)
    asked = {"action_type": "deploy_service", "agent": "ci", "user_id": "user"}
    async with server.http() as http, Client.connect(server, "user") as c:
        await c.welcome()
        waiting = asyncio.create_task(
            http.post("/api/approvals", json={**asked, "wait": 20}, headers=admin)
        )
        (card,) = await c.notifications(1)
        assert not waiting.done()
        decided = await http.post(
            f"/api/approvals/{card['data']['approval_id']}/reject",
            json={"reason": "freeze"},
            headers=server.auth("user"),
        )
        assert decided.status_code == 200, decided.text
        answer = await asyncio.wait_for(waiting, 5)
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "rejected" and answer.json()["approved"] is False

        expired = await http.post(
            "/api/approvals", json={**asked, "wait": 20, "expires_in": 0.3}, headers=admin
        )
        assert expired.status_code == 201 and expired.json()["status"] == "expired"
        undecided = await http.post("/api/approvals", json={**asked, "wait": 0.2}, headers=admin)
        assert undecided.json()["status"] == "pending"
        for bad in (301, -1, "soon", None):
            refused = await http.post("/api/approvals", json={**asked, "wait": bad}, headers=admin)
            if bad is None:  # null is no wait
                assert refused.status_code == 201 and refused.json()["status"] == "pending"
                continue
            assert refused.status_code == 422, (bad, refused.text)
            assert refused.json()["error"]["code"] == "bad_request"
            assert "wait" in refused.json()["error"]["message"]
