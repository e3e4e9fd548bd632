"""The contract of a background system wired into Grace (learning, guardian, self-heal, …).

A component is built with the ``Grace`` it belongs to, registers its protocol commands and status
provider in its constructor, and is added with ``grace.add_component`` before the application
starts. Guarantees the application gives: ``start`` runs after the stores, the task runner and
the approval gateway are up, in the order components were added; ``stop`` runs in the reverse
order, before any of those stop; ``routes`` (if not ``None``) is mounted by ``grace.api.app.mount``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastapi import APIRouter


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def routes(self) -> APIRouter | None: ...
