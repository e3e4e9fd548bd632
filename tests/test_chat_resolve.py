"""Slots to tasks (``grace_chat.chat.resolve``): an id that names no task never becomes one."""

from __future__ import annotations

from grace_chat.chat.conversation import Conversation
from grace_chat.chat.resolve import find_task
from grace_chat.tasks.model import TaskRecord, TaskState

TYPES = ["backup", "deployment", "sync"]


def _tasks() -> list[TaskRecord]:
    def task(task_id: str, kind: str, state: TaskState) -> TaskRecord:
        return TaskRecord(task_id=task_id, user_id="u", task_type=kind, state=state)

    return [  # newest first
        task("sync_301", "sync", TaskState.RUNNING),
        task("deploy_456", "deployment", TaskState.RUNNING),
        task("deploy_455", "deployment", TaskState.FAILED),
        task("backup_123", "backup", TaskState.RUNNING),
    ]


def find(name: str, **args: str) -> tuple[str | None, list[str], str | None]:
    found = find_task(name, args, _tasks(), TYPES, Conversation())
    return (
        found.task.task_id if found.task else None,
        [t.task_id for t in found.candidates],
        found.other_id,
    )


def test_an_exact_id_is_the_target() -> None:
    assert find("cancel_task", id="deploy_456") == ("deploy_456", [], None)


def test_an_unknown_id_with_a_known_prefix_is_only_a_suggestion() -> None:
    # "please cancel deploy_999": the deployment that can be cancelled is offered, not cancelled
    assert find("cancel_task", id="deploy_999") == (None, ["deploy_456"], None)


def test_a_bare_number_is_only_a_suggestion() -> None:
    assert find("pause_task", id="301") == (None, ["sync_301"], None)


def test_a_type_and_its_number_name_the_task() -> None:
    # "nuke deploy 456"
    assert find("cancel_task", id="456", what="deploy") == ("deploy_456", [], None)


def test_a_question_about_an_unknown_id_says_there_is_none() -> None:
    assert find("task_status", id="deploy_999") == (None, [], "deploy_999")


def test_nothing_alike_is_reported_as_missing() -> None:
    assert find("cancel_task", id="report_77") == (None, [], "report_77")


def test_a_suggestion_is_picked_by_its_place() -> None:
    from grace_chat.chat.resolve import ordinal

    assert ordinal("the second one") == 1
    assert ordinal("option 3 please") == 2
    assert ordinal("the last one") == -1
    assert ordinal("the first deployment") is None  # names something: not a pick by place
    assert ordinal("cancel the first one and the second") is None
