"""The Node.js baselines: where they live, the command that starts one, their npm packages.

``bench/baselines/node`` is an npm project of its own (``package.json`` and the lock file
``package-lock.json``, exact versions of socket.io and ws from the npm registry). Its packages are
installed with ``npm ci`` the first time a Node server is started and again whenever the lock
file is newer than ``node_modules`` (npm ci writes ``node_modules/.package-lock.json``), so a
fresh clone needs nothing but Node.js 20+ and npm on ``PATH``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent / "baselines" / "node"
LOCK = HERE / "package-lock.json"
#: What ``npm ci`` leaves behind: its copy of the lock it installed from.
INSTALLED = HERE / "node_modules" / ".package-lock.json"
#: Server kind → the script ``node`` runs.
SCRIPTS = {
    "node-socketio": HERE / "socketio_server.js",
    "node-ws": HERE / "ws_server.js",
}
#: The npm packages named in the benchmark's header.
PACKAGES = ("socket.io", "ws")


class NodeMissing(RuntimeError):
    """Node.js or npm is not installed, or ``npm ci`` failed."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise NodeMissing(
            f"the Node.js baselines need {name} on PATH (Node.js 20+ with npm, "
            "https://nodejs.org; Debian: apt-get install nodejs npm), or leave out "
            f"{', '.join(SCRIPTS)} with --servers"
        )
    return path


def installed() -> bool:
    return INSTALLED.exists() and INSTALLED.stat().st_mtime >= LOCK.stat().st_mtime


def ensure_installed() -> None:
    """Run ``npm ci`` in ``bench/baselines/node`` when its packages are missing or older than the
    lock file. Two harnesses starting at once install once (a lock on the lock file)."""
    _tool("node")
    if installed():
        return
    npm = _tool("npm")
    with open(LOCK, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            if installed():
                return
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0 or not INSTALLED.exists():
                raise NodeMissing(
                    f"npm ci in {HERE} failed ({done.returncode}): "
                    f"{(done.stdout + done.stderr)[-2000:]}"
                )
            INSTALLED.touch()  # newer than the lock, even when the lock's mtime is in the future
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def command(kind: str) -> list[str]:
    """The command that starts the server of ``kind`` (installing its packages first)."""
    ensure_installed()
    return [_tool("node"), str(SCRIPTS[kind])]


def versions() -> dict[str, str]:
    """Node.js's version and the locked versions of socket.io and ws (``-`` when unknown)."""
    out = {"node": "-"}
    node = shutil.which("node")
    if node is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10)
            out["node"] = done.stdout.strip().lstrip("v") or "-"
    try:
        lock = json.loads(LOCK.read_text())["packages"]
    except (OSError, ValueError, KeyError):
        lock = {}
    for name in PACKAGES:
        out[name] = lock.get(f"node_modules/{name}", {}).get("version", "-")
    return out
