"""Which server the client commands (``grace token``, ``notify``, ``tail``, ``learn``) talk to,
and whose secret signs the tokens they mint.

A running server writes ``DATA_DIR/server.json`` (its URL and process id) once it listens, and
removes it when it stops. The client commands, given no ``--url`` / ``GRACE_URL`` and no
``--data-dir`` / ``GRACE_DATA_DIR``, look for a live server in the two default data directories,
``.grace`` (``grace serve``) and ``.grace-demo`` (``grace demo``, which ``scripts/serve`` runs),
and use its URL and its data directory's secret. So ``grace demo`` in one terminal and
``grace tail user`` in another just work, whichever of the two runs and on whatever port, and a
token is never minted with a secret the server at the URL does not know. The two directories stay
apart so that the demo's scripted data never mixes with a real server's.

Guarantees: ``resolve`` never fails: with nothing running it answers ``DEFAULT_URL`` and
``.grace``, as before. A ``server.json`` whose process is gone (a server killed with SIGKILL)
is ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:8000"
RUNFILE = "server.json"
#: Where the client commands look for a running server when told nothing: ``grace serve``'s
#: default data directory first, then ``grace demo``'s.
DEFAULT_DATA_DIRS = (Path(".grace"), Path(".grace-demo"))


@dataclass(frozen=True)
class Target:
    url: str
    data_dir: Path
    #: The URL came from a running server's ``server.json`` (not a flag, not the default).
    discovered: bool = False


def announce(data_dir: Path, url: str) -> None:
    """Record that this process serves ``url`` from ``data_dir`` (private, replaced whole)."""
    path = data_dir / RUNFILE
    tmp = data_dir / (RUNFILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url, "pid": os.getpid()}, fh)
    os.replace(tmp, path)


def withdraw(data_dir: Path) -> None:
    """Remove this process's record (another process's is left alone)."""
    path = data_dir / RUNFILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def running_server(data_dir: Path) -> str | None:
    """The URL of the live server recorded in ``data_dir``, if any."""
    try:
        record = json.loads((data_dir / RUNFILE).read_text())
        url, pid = record["url"], record["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, someone else's
    return url


def resolve(url: str | None, data_dir: str | Path | None, env: Mapping[str, str]) -> Target:
    """The server and data directory to use: flags first, then ``GRACE_URL`` /
    ``GRACE_DATA_DIR`` from ``env`` (the command's environment), then a running server found in
    the default data directories."""
    url = url or env.get("GRACE_URL") or None
    given = data_dir or env.get("GRACE_DATA_DIR") or None
    candidates = (Path(given),) if given else DEFAULT_DATA_DIRS
    running = [(d, u) for d in candidates if (u := running_server(d)) is not None]
    discovered = False
    if url is None:
        if running:
            url, discovered = running[0][1], True
        else:
            url = DEFAULT_URL
    if given:
        return Target(url, Path(given), discovered)
    same = [d for d, u in running if _origin(u) == _origin(url)]
    return Target(url, same[0] if same else DEFAULT_DATA_DIRS[0], discovered)


def _origin(url: str) -> tuple[str, int | None]:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        return ("", None)
    if host in ("localhost", "0.0.0.0", "::", "::1"):
        host = "127.0.0.1"
    return (host, port)
