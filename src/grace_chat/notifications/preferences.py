"""What each person chose about their notifications: how each type is shown, and which cards they
archived. The contract every store engine keeps, and the frame that tells a user's open chats.

A type's *mode* is one of:

* ``alert``: shown, and a desktop alert is raised while the chat is in the background (the
  default for every type nobody chose a mode for);
* ``silent``: shown, with no desktop alert and no announcement;
* ``mute``: not shown at all (live nor in history), and left out of the away summary.

Modes and archive marks change what the person's chats *show*; the notification log itself is
never changed by them (a muted notification is still stored, replayed and counted by ``seq``).

Guarantees of a ``PreferenceStore``:

* ``modes(user)`` returns only the modes that user set, never another user's; a type with no
  entry is ``DEFAULT_MODE``.
* ``set_mode`` is durable when it returns; setting ``DEFAULT_MODE`` removes the entry, so
  ``modes`` lists only the choices that differ from the default.
* ``archive(user, ids, archived)`` is all or nothing: every id must name a notification in that
  user's log (ids of another user's notifications, unknown ids and ids retention removed count
  as unknown); when any is unknown nothing changes and the unknown ids are returned. A user can
  therefore only archive their own notifications. Archiving an archived card (or unarchiving one
  that is not) changes nothing and is not an error.
* ``archived(user)`` lists that user's archived ids still in their log, newest first, at most
  ``limit``; an archive mark goes when retention removes its notification.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

Mode = Literal["alert", "silent", "mute"]
MODES: tuple[Mode, ...] = get_args(Mode)
DEFAULT_MODE: Mode = "alert"

#: Most archived ids ``archived`` returns by default.
ARCHIVED_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    """What ``archive`` did: the ids whose mark changed, or the ids it refused (then nothing
    changed)."""

    changed: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()


class PreferenceStore(Protocol):
    async def open(self) -> None: ...

    async def modes(self, user_id: str) -> dict[str, Mode]:
        """The types ``user_id`` gave a mode other than the default, and those modes."""
        ...

    async def set_mode(self, user_id: str, notification_type: str, mode: Mode) -> None: ...

    async def archive(self, user_id: str, ids: Sequence[str], archived: bool) -> ArchiveResult:
        """Archive (or unarchive) the user's notifications ``ids``: all of them, or none."""
        ...

    async def archived(self, user_id: str, limit: int = ARCHIVED_LIMIT) -> list[str]:
        """Ids of the user's archived notifications still in their log, newest first."""
        ...


def muted(modes: Mapping[str, Mode]) -> frozenset[str]:
    """The types a person muted."""
    return frozenset(t for t, m in modes.items() if m == "mute")


def preferences_frame(
    modes: Mapping[str, Mode],
    archived: Sequence[str] = (),
    unarchived: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``preferences`` control frame: every mode the user set (types not listed are
    ``alert``) and the ids this change archived or unarchived. Sent to each of the user's open
    chats when their preferences change."""
    return {
        "type": "preferences",
        "modes": dict(modes),
        "default": DEFAULT_MODE,
        "archived": list(archived),
        "unarchived": list(unarchived),
    }
