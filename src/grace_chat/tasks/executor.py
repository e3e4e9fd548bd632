"""The contract of an executor: who runs a task's work when it is not Grace's own process.

The runner runs Python and shell tasks itself: that is the ``local`` executor, the default of
every task type. A task type naming another executor (``executor = "celery"``) is handed to it:
the runner still owns the task's record, its state machine, its notifications, its log and who
may see or control it; the executor only starts the work elsewhere and tells the runner what
happens to it through a ``Reporter``.

Guarantees an executor gives (``run``):

* It returns the work's result (a JSON value) when the work succeeded, raises ``TaskFailed`` with a
  message meant for the person when it failed, and ``TaskCancelled`` when it stopped after
  ``cancel`` (or was revoked by someone else). It never returns or raises anything else for the
  work's own outcome.
* It awaits ``report.started()`` once, when the work has begun (or, if it never saw it begin, just
  before returning or raising for an outcome that ran), so the task moves ``queued → running``
  when a worker picks it up, not when it is sent; ``progress`` only after that (``log`` at any
  time).
* ``cancel`` returns at once; the work is asked to stop, and stopped by force (SIGTERM, then
  SIGKILL) if it has not stopped after ``grace`` seconds, and again ``grace`` seconds later.
  ``run`` ends within a bounded time after ``cancel`` even when the far side never confirms.
* If ``run`` itself is cancelled (Grace stops), it stops watching at once; the work goes on where
  it runs and the runner records the task ``interrupted``.
* ``pausable`` is false for executors that cannot pause; the runner then answers pause and resume
  with ``conflict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

#: The runner's own execution of Python and shell tasks, in its process.
LOCAL = "local"


@dataclass(frozen=True, slots=True)
class Job:
    """One task as an executor receives it."""

    task_id: str
    user_id: str
    task_type: str
    #: What to run there (a Celery task's name).
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    queue: str | None = None


class Reporter(Protocol):
    """What an executor tells the runner about one job."""

    async def started(self, detail: str | None = None) -> None:
        """The work has begun (idempotent); ``detail`` goes to the task's log."""
        ...

    def progress(self, fraction: float, note: str | None = None) -> None: ...

    def log(self, line: str) -> None: ...


class Executor(Protocol):
    name: str
    pausable: bool

    async def run(self, job: Job, report: Reporter) -> Any: ...

    async def cancel(self, task_id: str, grace: float) -> None: ...

    async def close(self) -> None:
        """Release connections; called once when the runner stops, after every task ended."""
        ...
