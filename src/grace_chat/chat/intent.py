"""What the reader makes of a sentence: an intent's name and its slots, as said."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    args: dict[str, str] = field(default_factory=dict)
