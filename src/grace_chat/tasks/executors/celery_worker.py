"""For the Celery side: progress Grace shows, and the last step of Grace's cancel.

Import it in the module that defines your Celery app (so every worker loads it)::

    from grace_chat.tasks.executors.celery_worker import report_progress

    @app.task(bind=True)
    def deploy(self, version):
        report_progress(self, 0.5, "uploading")

``report_progress`` stores ``PROGRESS`` with ``{"progress": fraction, "note": note}`` in the result
backend (what the Celery executor reads) and sends a ``task-progress`` event with the same fields
(what ``grace celery-events`` reads). The stored meta also names the worker and the pool process
(``hostname``, ``pid``), as ``STARTED`` does, since it replaces ``STARTED`` in the backend.
Outside a worker (a direct call) it does nothing.

Importing the module also tells ``grace celery-events`` whose task a message is when it carries
the header ``grace_user`` (``task.apply_async(..., headers={"grace_user": "alice"})``): a
``task-grace-user`` event, sent on the worker's own event connection just before its
``task-received``.

It also registers the ``grace_kill`` remote-control command. Celery forgets a
task once ``revoke(terminate=True)`` has signalled it, so a task that ignores SIGTERM would run
on; Grace's last cancel step sends ``grace_kill`` with the pool process the task started in
(``task_track_started`` or ``report_progress`` reports it; otherwise Grace asks the workers
which process runs the task), and the worker sends SIGKILL to that process only if it is
still its own pool process and was signalled by a terminate (never to a fresh one that reused the
pid).
"""

from __future__ import annotations

import os
import signal
from typing import Any

from celery.signals import task_received
from celery.worker.control import control_command

PROGRESS = "PROGRESS"
PROGRESS_EVENT = "task-progress"
USER_HEADER = "grace_user"
USER_EVENT = "task-grace-user"


def report_progress(task: Any, fraction: float, note: str | None = None) -> None:
    """``task``: the bound Celery task (``self`` of ``@app.task(bind=True)``)."""
    if getattr(task.request, "id", None) is None or getattr(task.request, "called_directly", True):
        return
    meta = {"progress": min(1.0, max(0.0, float(fraction))), "note": note}
    where = {"hostname": getattr(task.request, "hostname", None), "pid": os.getpid()}
    task.update_state(state=PROGRESS, meta={**meta, **where})
    task.send_event(PROGRESS_EVENT, **meta)


@control_command(args=[("pid", int)], signature="<pid>")  # type: ignore[untyped-decorator]
def grace_kill(state: Any, pid: int, **kwargs: Any) -> dict[str, str]:
    """SIGKILL the pool process ``pid`` if a terminate already signalled it and it still runs."""
    pool = getattr(getattr(state.consumer, "pool", None), "_pool", None)
    find = getattr(pool, "_process_by_pid", None)
    process = find(int(pid))[0] if pool is not None and find is not None else None
    if pool is None or process is None or not getattr(process, "_job_terminated", False):
        return {"ok": f"no terminated pool process {pid}"}
    pool.terminate_job(int(pid), signal.SIGKILL)
    return {"ok": f"killed pool process {pid}"}


@task_received.connect(weak=False)  # type: ignore[untyped-decorator]
def announce_user(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    """The ``grace_user`` header of a received task, as a ``task-grace-user`` event."""
    headers = getattr(request, "request_dict", None) or {}
    user = headers.get(USER_HEADER) or (headers.get("headers") or {}).get(USER_HEADER)
    if isinstance(user, str) and user:
        request.send_event(USER_EVENT, user=user)
