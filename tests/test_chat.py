"""`/api/unified/chat` and the `chat` command, against live state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from grace_chat import Grace, TaskContext
from grace_chat.auth import Identity
from grace_chat.config import Settings
from grace_chat.tasks.model import TaskState
from tests.support import Client, serve

pytestmark = pytest.mark.engines
FILE = {
    "tasks": {
        "deployment": {"command": "echo pushing image; echo Deployed v2.1"},
        "backup": {"command": "sleep 30"},
    }
}


async def say(srv: Any, text: str, user: str = "user") -> dict[str, Any]:
    async with srv.http() as http:
        response = await http.post("/api/unified/chat", json={"text": text}, headers=srv.auth(user))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_seed_background_deployment_conversation(settings: Settings) -> None:
    async with (
        serve(settings.with_(file={**settings.file, **FILE})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        reply = await say(srv, "Run deployment in the background")
        task_id = reply["data"]["task"]["task_id"]
        assert reply["text"] == (
            f"Starting deployment as background task {task_id}.\n"
            "I'll notify you when it's complete."
        )
        kinds = [f["type"] for f in await c.notifications(2)]
        assert kinds == ["task_started", "task_completed"]
        logs = await say(srv, "Show deployment logs")
    assert logs["intent"] == "task_logs"
    assert logs["text"].endswith("pushing image\nDeployed v2.1")


async def test_show_background_tasks_cancel_and_nothing_for_other_users(settings: Settings) -> None:
    async with serve(settings.with_(file={**settings.file, **FILE})) as srv:
        await srv.grace.start_background_task("backup", "user", task_id="task_backup_789")
        listing = await say(srv, "Show background tasks")
        assert listing["text"].startswith("Background Tasks (1 active):")
        assert "⏳ task_backup_789 - Backup" in listing["text"] or (
            "🔄 task_backup_789 - Backup" in listing["text"]
        )
        assert "Status: " in listing["text"]
        theirs = await say(srv, "Show background tasks", user="mallory")
        assert theirs["text"] == "No background tasks right now."
        stolen = await say(srv, "cancel task task_backup_789", user="mallory")
        assert "belongs to another user" in stolen["text"]
        reply = await say(srv, "Cancel task task_backup_789")
        assert reply["text"] == "Cancelling task task_backup_789 (Backup)."
        final = await srv.grace.tasks.wait("task_backup_789", 10)
        assert final.state is TaskState.CANCELLED


async def test_unknown_and_negated_sentences_do_nothing(settings: Settings) -> None:
    async with serve(settings.with_(file={**settings.file, **FILE})) as srv:
        await srv.grace.start_background_task("backup", "user", task_id="keep_me")
        for sentence in ("don't cancel task keep_me", "I wonder how backups work", "cancel"):
            reply = await say(srv, sentence)
            assert reply["intent"] in ("declined", None), sentence
        unknown = await say(srv, "tell me a joke")
        assert unknown["text"].startswith("I'm not sure what you mean. I can:")
        record = await srv.grace.tasks.get("keep_me", Identity("user"))
        assert record.state.active


async def test_status_approval_and_history_with_card_state(server: Any) -> None:
    result = await server.grace.action_gateway.request_action(
        "modify_file", "learning_supervisor", {"file_path": "config.yaml"}
    )
    status = await say(server, "What's Grace doing?")
    assert "1 approval is waiting for you: modify_file" in status["text"]
    approved = await say(server, "approve it")
    assert approved["text"] == (
        f"Approved modify_file ({result['approval_id']}): "
        "Learning supervisor wants to modify config.yaml."
    )
    again = await say(server, f"approve {result['approval_id']}")
    assert again["text"].startswith("That was already approved")
    async with server.http() as http:
        thread = (await http.get("/api/unified/chat/history", headers=server.auth("user"))).json()[
            "items"
        ]
    said = [(i["role"], i["text"]) for i in thread if i["kind"] == "message"]
    assert said[0] == ("user", "What's Grace doing?")
    assert ("user", "approve it") in said and len(said) == 6
    card = next(i for i in thread if i["kind"] == "notification"
                and i["notification"]["type"] == "approval_needed")  # fmt: skip
    assert card["approval_state"] == "approved"


async def test_chat_over_the_websocket(server: Any) -> None:
    async with Client.connect(server, "user") as c:
        await c.welcome()
        reply = await c.command({"type": "chat", "text": "show healing attempts"})
    assert reply["type"] == "chat_reply" and reply["intent"] == "healing"
    assert reply["text"] == "No self-healing attempts yet."


async def test_an_llm_hook_maps_free_sentences_to_the_same_commands(settings: Settings) -> None:
    async def interpreter(text: str, caller: Identity) -> dict[str, Any] | None:
        if "what's cooking" in text.lower():
            return {"type": "status"}
        if "obliterate" in text.lower():
            return {"type": "cancel_task", "task_id": "someone_elses"}
        return None

    async def forever(ctx: TaskContext) -> None:
        await asyncio.Event().wait()

    grace = Grace(settings, interpreter=interpreter)
    async with serve(settings, grace) as srv:
        await srv.grace.start_background_task("x", "bob", forever, "someone_elses")
        cooking = await say(srv, "so, what's cooking?")
        assert cooking["intent"] == "status"
        assert cooking["text"].startswith("No background tasks are running.")
        nuke = await say(srv, "obliterate it all")
        assert "belongs to another user" in nuke["text"]
        assert (await srv.grace.tasks.get("someone_elses", Identity("bob"))).state.active


async def test_pause_and_resume_learning_from_the_chat(server: Any) -> None:
    async with Client.connect(server, "user") as c:
        await c.welcome()
        paused = await say(server, "Pause learning for now")
        assert paused["intent"] == "pause_learning"
        (note,) = await c.notifications(1)
        assert note["badge"] == "⏸️"
        assert note["message"] == "Learning jobs paused. Grace will not start new learning tasks."
        status = await say(server, "What's Grace doing?")
        assert "paused" in status["text"].lower()
        resumed = await say(server, "Resume learning")
        assert resumed["intent"] == "resume_learning"
        (note,) = await c.notifications(1)
    assert note["type"] == "learning_resumed"


async def test_an_uncertain_cancel_asks_with_the_command_to_run_and_yes_runs_it(
    settings: Settings,
) -> None:
    async with serve(settings.with_(file=FILE)) as srv:
        await srv.grace.start_background_task("backup", "user", task_id="task_backup_789")
        asked = await say(srv, "cancle task_backup_789")
        assert asked["intent"] == "clarify"
        assert asked["data"]["suggestions"] == [
            {
                "label": "Cancel task task_backup_789 (Backup)",
                "command": {"type": "cancel_task", "task_id": "task_backup_789"},
            }
        ]
        assert asked["text"].endswith("Did you mean: Cancel task task_backup_789 (Backup)?")
        assert (await srv.grace.tasks.get("task_backup_789", Identity("user"))).state.active
        done = await say(srv, "yes")
        assert done["text"] == "Cancelling task task_backup_789 (Backup)."
        assert done["data"]["command"] == {"type": "cancel_task", "task_id": "task_backup_789"}
        final = await srv.grace.tasks.wait("task_backup_789", 10)
    assert final.state is TaskState.CANCELLED


async def test_ok_alone_never_acts(server: Any) -> None:
    idle = await say(server, "ok")
    assert idle["intent"] == "smalltalk"
    result = await server.grace.action_gateway.request_action(
        "modify_file", "learning_supervisor", {"file_path": "config.yaml"}
    )
    for word in ("ok", "yes", "sure", "go ahead"):
        reply = await say(server, word)
        assert reply["intent"] == "clarify", word
        commands = [s["command"] for s in reply["data"]["suggestions"]]
        assert {"type": "approve", "approval_id": result["approval_id"]} in commands
        assert {"type": "reject", "approval_id": result["approval_id"]} in commands
    approval = await server.grace.action_gateway.get(result["approval_id"], Identity("user"))
    assert approval.state.value == "pending"


async def test_it_is_the_task_the_conversation_spoke_of(settings: Settings) -> None:
    async with serve(settings.with_(file=FILE)) as srv:
        await srv.grace.start_background_task("backup", "user", task_id="nightly_1")
        await srv.grace.start_background_task("backup", "user", task_id="nightly_2")
        unsure = await say(srv, "stop the backup")
        assert unsure["intent"] == "clarify" and len(unsure["data"]["suggestions"]) == 2
        status = await say(srv, "is nightly_1 still running?")
        assert status["intent"] == "task_status"
        stopped = await say(srv, "ok, stop it")
        assert stopped["text"] == "Cancelling task nightly_1 (Backup)."
        assert (await srv.grace.tasks.get("nightly_2", Identity("user"))).state.active


def test_a_question_long_ago_is_no_longer_open() -> None:
    from grace_chat.chat import conversation
    from grace_chat.chat.history import ChatMessage

    offer = {
        "label": "Cancel task t1 (Backup)",
        "command": {"type": "cancel_task", "task_id": "t1"},
    }
    asked = ChatMessage("user", "grace", "Did you mean …?", {"intent": "clarify",
                        "suggestions": [offer], "pending": "cancel_task"}, at=1000.0)  # fmt: skip
    fresh = conversation.read([asked], {"t1"}, now=1000.0 + 60)
    stale = conversation.read([asked], {"t1"}, now=1000.0 + 3600)
    assert fresh.pending == "cancel_task" and fresh.suggestions == [offer]
    assert stale.pending is None and not stale.suggestions


async def test_the_history_keeps_each_replys_intent_and_data(settings: Settings) -> None:
    async with serve(settings.with_(file=FILE)) as srv:
        await srv.grace.start_background_task("backup", "user", task_id="keep_me")
        reply = await say(srv, "show background tasks")
        assert reply["intent"] == "list_tasks" and reply["data"]["tasks"]
        async with srv.http() as http:
            thread = (await http.get("/api/unified/chat/history", headers=srv.auth("user"))).json()[
                "items"
            ]
    asked, answered = [i for i in thread if i["kind"] == "message"]
    assert (asked["role"], asked["intent"], asked["data"]) == ("user", None, {})
    assert answered["role"] == "grace" and answered["text"] == reply["text"]
    # drawn after a reload from what it was drawn from live
    assert (answered["intent"], answered["data"]) == (reply["intent"], reply["data"])
