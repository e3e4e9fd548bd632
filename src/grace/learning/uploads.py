"""What a learning job reads: an uploaded document kept in Grace's inbox, or a file by path.

Guarantees: an uploaded name is reduced to its file name part (no directories, no control
characters, at most 200 characters), so an upload can never write outside its own folder of the
inbox; an upload larger than the limit is refused before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from grace.errors import BadRequest, TooLarge


def safe_name(name: str) -> str:
    """The file name part of an uploaded name, without directories or control characters."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if not base or base in {".", ".."}:
        raise BadRequest("a document needs a file name")
    return base[:200]


def absolute(source: str | Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(source)))


def keep_upload(inbox: Path, folder: str, name: str, data: bytes, max_bytes: int) -> Path:
    """Write an upload to ``inbox/folder/<safe name>``; returns where it went."""
    clean = safe_name(name)
    if len(data) > max_bytes:
        raise TooLarge(f"{clean} is larger than {max_bytes} bytes")
    path = inbox / folder / clean
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
