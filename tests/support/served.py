"""A real ``grace serve`` process for tests that measure or fuzz it from outside: its URL, its
login token, admin tokens minted with its secret, and its memory as the kernel counts it."""

from __future__ import annotations

import os
import queue
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: The children see no GRACE_* settings from the environment running the tests.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GRACE_")}
GRACE_SERVE = [sys.executable, "-m", "grace_chat.cli", "serve", "--port", "0"]
RUNNING = re.compile(r"Grace is running at (http://127\.0\.0\.1:(\d+))/\?token=(\S+)")


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    token: str
    data_dir: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def admin_token(self, user: str = "root") -> str:
        from grace_chat.auth import TokenAuthority

        secret = (self.data_dir / "secret.key").read_text().strip()
        return TokenAuthority(secret, 3600).issue(user, admin=True)

    def memory(self, field: str) -> int:
        """``VmRSS`` (resident now) or ``VmHWM`` (the peak since start or ``reset_peak``), in
        bytes, from ``/proc``."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    def reset_peak(self) -> bool:
        """Start ``VmHWM`` again from the current RSS (Linux's ``clear_refs`` 5)."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))


@contextmanager
def grace_serve(
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    *,
    max_open_files: int | None = None,
    log: Path | None = None,
    command: Sequence[str] = GRACE_SERVE,
    log_level: str = "warning",
    cwd: Path | None = None,
) -> Iterator[Served]:
    """``grace serve`` on a free loopback port; its log goes to ``log`` (default: a file in
    ``data_dir``'s parent), never to a pipe nobody reads. ``command`` runs another installation's
    ``grace serve --port 0`` (default: this interpreter's)."""

    def limit_files() -> None:
        if max_open_files is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, hard))

    log = log or data_dir.parent / f"{data_dir.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*command, "--data-dir", str(data_dir), "--log-level", log_level],
            env={**ENV, **(env or {})},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=err,
            preexec_fn=limit_files if max_open_files is not None else None,
        )
    lines: queue.Queue[bytes] = queue.Queue()

    def read_lines() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw)

    threading.Thread(target=read_lines, daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic())).decode()
            except queue.Empty:
                raise AssertionError(f"grace serve did not start: {log.read_text()}") from None
            if found := RUNNING.search(line):
                break
        yield Served(proc, found[1], found[3], data_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
