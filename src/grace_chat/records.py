"""What every store engine hands its contract's codecs: a stored row, its fields by position.

The systems' store modules turn rows into records (and records into values) once, for every engine;
an engine only says which columns it reads, in that order.
"""

from __future__ import annotations

from typing import Any, Protocol


class Row(Protocol):
    """A stored row as an engine's driver gives it (a tuple, an ``asyncpg.Record``)."""

    def __getitem__(self, index: int, /) -> Any: ...
