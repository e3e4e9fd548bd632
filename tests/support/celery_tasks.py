"""The Celery app the tests' workers run (``celery -A tests.support.celery_tasks worker``): its
broker and result backend come from ``GRACE_TEST_CELERY_BROKER`` and
``GRACE_TEST_CELERY_BACKEND``. The tasks wait on files the test creates, never on time."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from celery import Celery

from grace_chat.tasks.executors.celery_worker import report_progress

app = Celery(
    "grace_tests",
    broker=os.environ.get("GRACE_TEST_CELERY_BROKER"),
    backend=os.environ.get("GRACE_TEST_CELERY_BACKEND"),
    set_as_current=False,
)
app.conf.update(
    task_track_started=True,
    worker_send_task_events=True,
    task_send_sent_event=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)


def _wait_for(path: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.02)


@app.task(bind=True, name="grace_tests.deploy")
def deploy(self: Any, version: str, release: str) -> dict[str, Any]:
    report_progress(self, 0.5, f"uploading {version}")
    _wait_for(release)
    self.update_state(state="PROGRESS", meta={"current": 9, "total": 10})
    return {"status": "success", "version": version}


@app.task(name="grace_tests.fail")
def fail(message: str) -> None:
    raise ValueError(message)


@app.task(bind=True, name="grace_tests.hang")
def hang(self: Any, pidfile: str, ignore_term: bool = False, progress: str = "") -> None:
    """Runs until it is killed. ``progress``: ``report`` (``report_progress``) or ``plain``
    (``update_state`` naming no process) replaces ``STARTED`` at once."""
    if progress == "report":
        report_progress(self, 0.1, "working")
    elif progress == "plain":
        self.update_state(state="PROGRESS", meta={"current": 1, "total": 10})
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Path(pidfile).write_text(str(os.getpid()))
    while True:
        time.sleep(0.05)


@app.task(bind=True, name="grace_tests.direct")
def direct(self: Any, release: str, grace_user: str | None = None) -> str:
    report_progress(self, 0.25, "outside Grace")
    _wait_for(release)
    return "done directly"
