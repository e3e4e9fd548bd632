"""Protocol v1's server frames: what ``/api/notifications/stream`` (and SSE) sends to a client.

``grace_chat.protocol`` declares the client's commands; this module declares the other direction, so
that ``protocol_schema()`` can publish both and the TypeScript client can be checked against them.
The models describe frames; the server builds its frames as plain dicts where they are produced
(``Notification.frame()``, ``TaskRecord.info()``, ``Approval.info()``, the command handlers...),
and ``tests/test_protocol_schema.py`` validates what a live server sends against these models, so
a field added, removed or renamed on either side fails a test.

Models forbid fields they do not declare, except ``status``: every status provider adds its own
section to that frame.

A reply to a command carries the command's ``id`` back as ``ref`` when the command had one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from grace_chat.errors import ErrorCode

TaskState = Literal[
    "queued", "running", "paused", "cancelling", "succeeded", "failed", "cancelled", "interrupted"
]
ApprovalState = Literal["pending", "approved", "rejected", "expired"]
Severity = Literal["info", "success", "warning", "error"]
LearningState = Literal["running", "paused"]
TaskEnd = Literal["succeeded", "failed", "cancelled", "interrupted"]
NotificationMode = Literal["alert", "silent", "mute"]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Frame(_Shape):
    """Base of every server frame."""

    type: str


class Reply(Frame):
    """A frame that may answer a command."""

    ref: str | int | None = Field(
        default=None, description="the answered command's id; absent when it had none"
    )


# -- what frames carry --------------------------------------------------------------------------


class NotificationAction(_Shape):
    """A button on a notification card; ``id`` names the command it leads to."""

    id: str
    label: str


class TaskInfo(_Shape):
    """A background task (``TaskRecord.info()``)."""

    task_id: str
    task_type: str
    title: str
    state: TaskState
    progress: float | None
    note: str | None
    params: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    running_for: str | None
    pause_requested: bool
    result: Any
    error: str | None


class ApprovalInfo(_Shape):
    """An approval asked of a person (``Approval.info()``)."""

    approval_id: str
    user_id: str
    action_type: str
    agent: str
    params: dict[str, Any]
    trace_id: str | None
    message: str
    state: ApprovalState
    created_at: str
    expires_at: str | None
    decided_at: str | None
    decided_by: str | None
    reason: str | None


class LogLine(_Shape):
    """One line of a task's log; ``t`` is Unix time in seconds."""

    t: float
    line: str


class SeverityCounts(_Shape):
    """How many notifications of each severity."""

    info: int
    success: int
    warning: int
    error: int


class SummaryApproval(_Shape):
    """An approval in the away summary, as it stands now: still ``pending`` (the person can
    approve or reject it by ``approval_id``), or decided or ``expired`` while they were away."""

    approval_id: str
    state: ApprovalState
    message: str
    action_type: str | None
    expires_at: str | None
    seq: int | None = Field(
        description="the approval_needed notification's seq; null when only its decision came"
    )


class SummaryTask(_Shape):
    """A background task that ended while the person was away (its latest end)."""

    task_id: str
    state: TaskEnd
    message: str
    task_type: str | None
    title: str | None
    error: str | None
    seq: int


class AwaySummary(_Shape):
    """ "While you were away": the notifications after ``since`` in one summary
    (``grace_chat.notifications.digest``). Types the person muted are left out."""

    count: int
    since: int
    first_seq: int = Field(description="the range the summary covers: first_seq..last_seq")
    last_seq: int
    first_at: str | None
    last_at: str | None
    by_type: dict[str, int] = Field(description="notification type → how many, most first")
    by_severity: SeverityCounts
    waiting: int = Field(description="approvals still waiting for the person")
    approvals: list[SummaryApproval] = Field(description="pending first; at most 20")
    tasks: list[SummaryTask] = Field(description="failed first; at most 20")
    text: str = Field(description="the summary in one sentence")


# -- the frames ---------------------------------------------------------------------------------


class NotificationFrame(Frame):
    """A notification (``Notification.frame()``). Its ``type`` is the notification's type, never
    the name of a control frame."""

    id: str
    seq: int
    title: str
    message: str
    badge: str
    severity: Severity
    timestamp: str
    data: dict[str, Any]
    actions: list[NotificationAction]
    read: bool


class WelcomeFrame(Frame):
    """The first frame of every connection: who the caller is and where their log stands."""

    type: Literal["welcome"]
    user_id: str
    epoch: str
    seq: int
    unread: int
    protocol: int


class SyncedFrame(Frame):
    """The end of the replay: everything up to ``seq`` has been sent."""

    type: Literal["synced"]
    seq: int
    gap: bool = Field(
        default=False, description="present (true) when notifications the client asked for are gone"
    )
    summary: AwaySummary | None = Field(
        default=None,
        description="present when the replay brought at least away_digest_threshold notifications",
    )


class PongFrame(Reply):
    type: Literal["pong"]


class ErrorFrame(Reply):
    type: Literal["error"]
    code: ErrorCode
    message: str
    close_code: int | None = Field(
        default=None, description="present when the server closes the stream after this frame"
    )


class AckedFrame(Reply):
    type: Literal["acked"]
    seq: int


class ReadFrame(Reply):
    """Notifications marked read: the reply to ``mark_read``, and pushed to the user's other
    connections."""

    type: Literal["read"]
    ids: list[str]
    up_to_seq: int | None
    all: bool
    marked: int
    unread: int


class TaskListFrame(Reply):
    type: Literal["task_list"]
    tasks: list[TaskInfo]
    active: int


class TaskFrame(Reply):
    type: Literal["task"]
    task: TaskInfo


class TaskLogsFrame(Reply):
    type: Literal["task_logs"]
    task_id: str
    lines: list[LogLine]


class ApprovalFrame(Reply):
    type: Literal["approval"]
    approval: ApprovalInfo
    decided: bool = Field(description="false when an earlier decision already stood")


class LearningFrame(Reply):
    """The gate a pause or resume addressed: the caller's own (``own``) or everyone's (``all``)."""

    type: Literal["learning"]
    scope: Literal["own", "all"]
    state: LearningState
    waiting: int
    effective: LearningState = Field(description="whether the caller's own learning runs")
    changed: bool = Field(description="false when learning already was in that state")


class StatusFrame(Reply):
    """What Grace is doing: ``summary`` in words, plus one section per status provider."""

    model_config = ConfigDict(extra="allow")
    type: Literal["status"]
    summary: str


class PreferencesFrame(Frame):
    """The user's notification preferences changed (in any of their chats, or over REST): every
    mode they set (types not listed are ``default``) and the cards this change archived or
    unarchived."""

    type: Literal["preferences"]
    modes: dict[str, NotificationMode]
    default: NotificationMode
    archived: list[str]
    unarchived: list[str]


class ChatReplyFrame(Reply):
    type: Literal["chat_reply"]
    text: str
    intent: str | None
    data: dict[str, Any]


#: Every server frame by name: control frames by their ``type``, notifications as "notification".
FRAMES: dict[str, type[Frame]] = {
    "welcome": WelcomeFrame,
    "synced": SyncedFrame,
    "pong": PongFrame,
    "error": ErrorFrame,
    "acked": AckedFrame,
    "read": ReadFrame,
    "task_list": TaskListFrame,
    "task": TaskFrame,
    "task_logs": TaskLogsFrame,
    "approval": ApprovalFrame,
    "learning": LearningFrame,
    "status": StatusFrame,
    "chat_reply": ChatReplyFrame,
    "preferences": PreferencesFrame,
    "notification": NotificationFrame,
}
