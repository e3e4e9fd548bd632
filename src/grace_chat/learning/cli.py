"""``grace learn PATH...``: send documents to a running server and watch them being learned.

Uploads every file in one ``POST /api/learning/documents``, then follows each job over REST
(``GET /api/learning/jobs/{task_id}``) with a progress bar per document (on stderr; with the
``cli`` extra's rich, else a plain line each time a document's state changes) until it is
ingested or failed; one result line per document goes to stdout. Exit status: 0 when every
document was ingested, 1 when any failed (or the server could not be reached), 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000"
POLL_SECONDS = 0.25
OCTETS = "application/octet-stream"
FINISHED = {"succeeded", "failed", "cancelled", "interrupted", "unknown"}


def add_learn_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``learn`` to ``grace``'s sub-commands (``subparsers`` from ``add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "learn",
        help="send documents to a running server to learn from",
        description="Upload documents to a running server and follow each until it is learned "
        "(ingested) or failed.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="text, Markdown, HTML or PDF files")
    p.add_argument(
        "--url",
        help="the server (default: $GRACE_URL, else the server running from .grace or "
        f".grace-demo, else {DEFAULT_URL})",
    )
    p.add_argument(
        "--token",
        help="your token (default: $GRACE_TOKEN, else minted with the server's secret)",
    )
    p.add_argument("--user", default="user", help="whose knowledge it becomes (default: user)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait (default 600)")
    p.add_argument("--no-wait", action="store_true", help="submit and exit without following")
    p.add_argument(
        "--data-dir",
        help="the server's data directory, whose secret signs the minted token "
        "(default: $GRACE_DATA_DIR, else the running server's)",
    )
    p.set_defaults(fn=cmd_learn)
    return p


def _target(args: argparse.Namespace) -> tuple[str, str]:
    """The server's URL and a token for ``--user``: flags, then ``GRACE_URL`` /
    ``GRACE_TOKEN``, then the running server found by ``grace_chat.target``."""
    import os

    from grace_chat import target
    from grace_chat.auth import TokenAuthority, check_user_id, load_or_create_secret
    from grace_chat.config import Settings

    where = target.resolve(args.url, args.data_dir, os.environ)
    given = args.token or os.environ.get("GRACE_TOKEN")
    if given:
        return where.url, str(given)
    settings = Settings.from_env(data_dir=where.data_dir)
    secret = settings.secret or load_or_create_secret(settings.data_dir)
    user = check_user_id(args.user)
    return where.url, TokenAuthority(secret, settings.token_ttl_seconds).issue(user)


def _error_of(response: Any) -> str:
    try:
        err = response.json()["error"]
        return f"{err['code']}: {err['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def cmd_learn(args: argparse.Namespace) -> int:
    import httpx

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"grace: not a file: {', '.join(missing)}", file=sys.stderr)
        return 2
    from grace_chat.errors import GraceError

    try:
        url, token = _target(args)
    except GraceError as exc:
        print(f"grace: --user: {exc.message}", file=sys.stderr)
        return 2
    if not url.startswith(("http://", "https://")):
        print(
            f"grace: bad server URL {url!r}: it must start with http:// or https://",
            file=sys.stderr,
        )
        return 2
    headers = {"Authorization": f"Bearer {token}"}
    base = url.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        handles = [p.open("rb") for p in paths]
        try:
            files = [
                (
                    "files",
                    (p.name, fh, mimetypes.guess_type(p.name)[0] or "application/octet-stream"),
                )
                for p, fh in zip(paths, handles, strict=True)
            ]
            response = http.post("/api/learning/documents", files=files)
        except httpx.HTTPError as exc:
            print(f"grace: cannot reach {url}: {exc}", file=sys.stderr)
            return 1
        finally:
            for fh in handles:
                fh.close()
        if response.status_code != 202:
            print(f"grace: the server refused: {_error_of(response)}", file=sys.stderr)
            return 1
        submitted = response.json()
        jobs: list[dict[str, Any]] = submitted["jobs"]
        if submitted.get("state") == "paused":
            print("learning is paused: the documents wait until it is resumed", file=sys.stderr)
        if args.no_wait:
            for job in jobs:
                print(f"submitted {job['name']}: {job['task_id']}")
            return 0
        try:
            finals = follow(http, jobs, args.timeout)
        except httpx.HTTPError as exc:
            print(f"grace: lost the server: {exc}", file=sys.stderr)
            return 1
    ok = True
    for job in jobs:
        final = finals.get(job["task_id"])
        if final is not None and final["state"] == "succeeded":
            result = final.get("result") or {}
            print(
                f"ingested {job['name']}: trust {float(result.get('trust', 0)):.2f}, "
                f"{result.get('passages', 0)} passages ({job['task_id']})"
            )
        else:
            ok = False
            if final is None:
                print(f"unfinished {job['name']}: still running after {args.timeout:g}s")
            else:
                reason = final.get("error") or final["state"]
                print(f"failed {job['name']}: {reason} ({job['task_id']})")
    return 0 if ok else 1


def follow(http: Any, jobs: list[dict[str, Any]], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll each job until it finishes: a progress bar per document with ``rich`` (the ``cli``
    extra), else one plain line on stderr each time a document's state or note changes."""
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
    except ImportError:
        return _follow_plain(http, jobs, timeout)

    finals: dict[str, dict[str, Any]] = {}
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[note]}"),
    )
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console, transient=False) as bars:
        ids = {
            job["task_id"]: bars.add_task(job["name"], total=1.0, note=job["state"]) for job in jobs
        }
        while len(finals) < len(jobs) and time.monotonic() < deadline:
            for task_id, bar in ids.items():
                if task_id in finals:
                    continue
                response = http.get(f"/api/learning/jobs/{task_id}")
                if response.status_code != 200:
                    finals[task_id] = {"state": "unknown", "error": _error_of(response)}
                    bars.update(bar, note="unknown")
                    continue
                view = response.json()
                state = view["state"]
                if state in FINISHED:
                    finals[task_id] = view
                    if state == "succeeded":
                        trust = (view.get("result") or {}).get("trust")
                        bars.update(bar, completed=1.0, note=f"ingested, trust {trust}")
                    else:
                        bars.update(bar, note=f"{state}: {view.get('error') or ''}".strip())
                else:
                    note = view.get("note") or state
                    bars.update(bar, completed=float(view.get("progress") or 0.0), note=note)
            if len(finals) < len(jobs):
                time.sleep(POLL_SECONDS)
    return finals


def _poll(http: Any, task_id: str) -> dict[str, Any]:
    response = http.get(f"/api/learning/jobs/{task_id}")
    if response.status_code != 200:
        return {"state": "unknown", "error": _error_of(response)}
    view: dict[str, Any] = response.json()
    return view


def _follow_plain(
    http: Any, jobs: list[dict[str, Any]], timeout: float
) -> dict[str, dict[str, Any]]:
    finals: dict[str, dict[str, Any]] = {}
    said: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(finals) < len(jobs) and time.monotonic() < deadline:
        for job in jobs:
            task_id = job["task_id"]
            if task_id in finals:
                continue
            view = _poll(http, task_id)
            state = view["state"]
            if state in FINISHED:
                finals[task_id] = view
            note = f"{state}: {view.get('note') or view.get('error') or ''}".rstrip(": ")
            if said.get(task_id) != note:
                said[task_id] = note
                print(f"{job['name']}: {note}", file=sys.stderr, flush=True)
        if len(finals) < len(jobs):
            time.sleep(POLL_SECONDS)
    return finals
