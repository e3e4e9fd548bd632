"""The optional parts of Grace and the extra that installs each (``pip install 'grace-chat[X]'``).

The core install serves notifications over WebSocket, SSE and REST with the embedded engine; the
rest comes with an extra: ``learning`` (the learning supervisor: PDF, HTML and Markdown
extraction, multipart uploads), ``guardian`` (host metrics), ``cli`` (``grace learn``'s progress
bars), ``postgres``, ``redis``, ``uvloop``, and ``all``. Grace imports an extra's libraries only
where it uses them, so ``import grace_chat`` and ``grace serve`` work on the core install.

``missing`` says which of an extra's distributions are not installed (by their installed
metadata, without importing them); ``require`` raises ``MissingExtra``, whose message names
them and the command that installs them; ``installable`` keeps the background systems whose
extra is installed and says why it left each other out, so the server can name the extra when a
client asks for a system that is not there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import metadata

from grace_chat.errors import MissingExtra

#: Each extra's distributions, as they are named on the package index.
EXTRAS: dict[str, tuple[str, ...]] = {
    "learning": ("pypdf", "beautifulsoup4", "markdown-it-py", "python-multipart"),
    "guardian": ("psutil",),
    "cli": ("rich",),
    "postgres": ("asyncpg",),
    "redis": ("redis",),
    "uvloop": ("uvloop",),
}

#: The background systems that need an extra installed, with its name.
SYSTEM_EXTRAS = {"learning": "learning", "guardian": "guardian"}

log = logging.getLogger("grace")


def installed(distribution: str) -> bool:
    """Whether ``distribution`` is installed in this environment."""
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing(extra: str) -> list[str]:
    """The distributions of ``extra`` that are not installed (empty: the extra is complete)."""
    return [name for name in EXTRAS[extra] if not installed(name)]


def require(extra: str, feature: str) -> None:
    """Raise ``MissingExtra`` unless every distribution of ``extra`` is installed; ``feature``
    begins the message (``"the learning system"``)."""
    gone = missing(extra)
    if gone:
        raise MissingExtra(feature, extra, gone)


def installable(
    chosen: Iterable[str],
    *,
    explicit: bool,
    left_out: dict[str, MissingExtra] | None = None,
) -> set[str]:
    """``chosen`` less the systems whose extra is not installed. Asked for by name
    (``explicit``), such a system fails with ``MissingExtra``; under ``systems=True`` it is left
    out with one log line naming the extra, and its ``MissingExtra`` is put in ``left_out``
    under the system's name."""
    kept = set(chosen)
    for name, extra in SYSTEM_EXTRAS.items():
        if name not in kept:
            continue
        try:
            require(extra, f"the {name} system")
        except MissingExtra as exc:
            if explicit:
                raise
            log.info("%s; Grace runs without it", exc)
            kept.discard(name)
            if left_out is not None:
                left_out[name] = exc
    return kept
