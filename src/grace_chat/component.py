"""The contract of a background system's lifecycle (learning, guardian, self-heal, …).

A component is built by the composition root with the parts it uses and added with
``grace.add_component`` before the application starts. Guarantees the application gives:
``start`` runs after the stores, the task runner and the approval gateway are up, in the order
components were added; ``stop`` runs in the reverse order, before any of those stop. A
component's REST routes, if any, are built in ``grace_chat.api`` from the component.
"""

from __future__ import annotations

from typing import Protocol


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
