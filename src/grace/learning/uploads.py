"""What a learning job reads: an uploaded document kept in Grace's inbox, or a file by path.

Guarantees: an uploaded name is reduced to its file name part (no directories, no control
characters, at most 200 characters), so an upload can never write outside its own folder of the
inbox; an upload larger than the limit is refused before anything is written; an upload the
disk cannot take (full, read-only) is ``StoreUnavailable`` and leaves no partial file behind.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path, PurePath

from grace.errors import BadRequest, StoreUnavailable, TooLarge

#: Errors of the file system, not of the upload: the person may try again later.
_DISK_TROUBLE = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk is full",
    errno.EFBIG: "the disk is full",
    errno.EROFS: "the data directory is read-only",
    errno.EIO: "the disk failed to read or write",
}


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        reason = _DISK_TROUBLE.get(exc.errno or 0)
        if reason is None:
            raise
        shutil.rmtree(path.parent, ignore_errors=True)
        raise StoreUnavailable(
            f"Grace cannot store the upload right now: {reason}. Try again later."
        ) from exc
    return path
