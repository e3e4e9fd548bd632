"""What a learning job reads: an uploaded document kept in Grace's inbox, or a file by path.

Guarantees: an uploaded name is reduced to its file name part (no directories, no control
characters, at most 200 characters), so an upload can never write outside its own folder of the
inbox; an upload larger than the limit is refused and nothing of it is kept; an upload given as a
file is copied in chunks, never read whole into memory.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePath
from typing import BinaryIO

from grace.errors import BadRequest, TooLarge

#: What is read from an upload at a time while it is copied into the inbox.
CHUNK = 1024 * 1024


def safe_name(name: str) -> str:
    """The file name part of an uploaded name, without directories or control characters."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if not base or base in {".", ".."}:
        raise BadRequest("a document needs a file name")
    return base[:200]


def absolute(source: str | Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(source)))


def keep_upload(
    inbox: Path, folder: str, name: str, data: bytes | BinaryIO, max_bytes: int
) -> Path:
    """Write an upload (bytes, or a file read from where it is in chunks) to
    ``inbox/folder/<safe name>``; returns where it went. Over ``max_bytes`` nothing is kept."""
    clean = safe_name(name)
    if isinstance(data, bytes) and len(data) > max_bytes:
        raise TooLarge(f"{clean} is larger than {max_bytes} bytes")
    path = inbox / folder / clean
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
        return path
    written = 0
    try:
        with path.open("wb") as out:
            while chunk := data.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise TooLarge(f"{clean} is larger than {max_bytes} bytes")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()
        raise
    return path
