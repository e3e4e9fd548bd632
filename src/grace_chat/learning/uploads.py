"""What a learning job reads: an uploaded document kept in Grace's inbox, or a file by path.

Guarantees: an uploaded name is reduced to its file name part (no directories, no control
characters, at most 200 characters), so an upload can never write outside its own folder of the
inbox; an upload larger than the limit is refused before anything is written; an upload the
disk cannot take (full, read-only) is ``StoreUnavailable`` and leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path, PurePath
from typing import BinaryIO

from grace_chat.errors import BadRequest, StoreUnavailable, TooLarge

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
        raise _unavailable(exc, path.parent) from exc
    return path


def _unavailable(exc: OSError, folder: Path) -> OSError | StoreUnavailable:
    """``StoreUnavailable`` (with the upload's folder removed) when ``exc`` says the disk cannot
    take the upload; ``exc`` itself otherwise."""
    reason = _DISK_TROUBLE.get(exc.errno or 0)
    if reason is None:
        return exc
    shutil.rmtree(folder, ignore_errors=True)
    return StoreUnavailable(f"Grace cannot store the upload right now: {reason}. Try again later.")


#: What is read from an uploaded file at a time while it is copied into the inbox.
CHUNK = 1024 * 1024


def keep_upload_file(inbox: Path, folder: str, name: str, source: BinaryIO, max_bytes: int) -> Path:
    """``keep_upload`` for an upload that is a file (spooled to disk as it arrived): copied to
    the inbox in ``CHUNK``s, never read whole into memory. Past ``max_bytes`` the partial copy
    is removed and ``TooLarge`` raised."""
    clean = safe_name(name)
    path = inbox / folder / clean
    written = 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise TooLarge(f"{clean} is larger than {max_bytes} bytes")
                out.write(chunk)
    except BaseException as exc:
        with contextlib.suppress(OSError):  # nothing of a refused upload is kept, not its folder
            path.unlink(missing_ok=True)
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
        if isinstance(exc, OSError) and (refused := _unavailable(exc, path.parent)) is not exc:
            raise refused from exc
        raise
    return path
