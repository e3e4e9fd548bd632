"""Celery for the tests: the machine's brokers (RabbitMQ and Redis), a real worker process on a
queue of its own (``tests.support.celery_tasks``), and checks that skip, or under CI fail, when a
broker or Celery itself is missing. Every wait polls with a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.postgres import in_ci
from tests.support.redis import REDIS_URL

RABBITMQ_URL = os.environ.get("GRACE_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
BROKERS = {"rabbitmq": RABBITMQ_URL, "redis": REDIS_URL}
#: The children see no GRACE_* settings from the environment running the tests.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GRACE_")}


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"Celery tests need their broker under CI and {reason}", pytrace=False)
    pytest.skip(f"Celery tests skipped: {reason}")


def require_broker(name: str) -> str:
    """The broker's URL, once it accepted a connection (and Redis, the result backend, too)."""
    try:
        from kombu import Connection
    except ImportError:
        unavailable("Celery is not installed (pip install -e '.[dev]' installs it)")
    for url in {BROKERS[name], REDIS_URL}:
        try:
            with Connection(url, connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1)
        except Exception as exc:
            unavailable(f"no broker answered at {url}: {exc}")
    return BROKERS[name]


@dataclass
class Worker:
    broker: str
    backend: str
    queue: str
    hostname: str
    proc: subprocess.Popen[bytes]
    log: Path

    def children(self) -> list[int]:
        import psutil

        return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]


@contextmanager
def celery_worker(broker: str, log_dir: Path) -> Iterator[Worker]:
    """``celery worker`` (prefork, two processes, events on) on a queue no other run uses."""
    tag = uuid.uuid4().hex[:8]
    queue, hostname = f"grace-test-{tag}", f"grace-test-{tag}@localhost"
    log = log_dir / f"celery-worker-{tag}.log"
    env = {**ENV, "GRACE_TEST_CELERY_BROKER": broker, "GRACE_TEST_CELERY_BACKEND": REDIS_URL}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.support.celery_tasks",
                "worker",
                "--pool=prefork",
                "--concurrency=2",
                "--events",
                "--loglevel=INFO",
                f"--queues={queue}",
                f"--hostname={hostname}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            cwd=Path(__file__).resolve().parent.parent.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the Celery worker did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield Worker(broker, REDIS_URL, queue, hostname, proc, log)
    finally:
        with _suppress():
            os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        with _suppress():
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        delete_queue(broker, queue)


def delete_queue(broker: str, queue: str) -> None:
    """The worker's queue is durable: remove it, so runs leave nothing on the shared broker."""
    from kombu import Connection

    with suppress(Exception), Connection(broker, connect_timeout=3) as conn:
        conn.default_channel.queue_delete(queue)


def _suppress() -> suppress:
    return suppress(ProcessLookupError, PermissionError)
