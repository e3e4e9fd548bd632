"""The house: every module imports only from its own layer or below, and each imports alone.

Layers, bottom to top (docs/architecture.md draws them):

0. ``errors``
1. ``config``, ``protocol``, ``events``, ``auth``, ``extras``, ``target`` (which server
   the client commands talk to)
2. ``hub``
3. ``notifications`` (with ``notifications.store``, the notification log's contract)
4. ``commands``, ``status``, ``component`` (what the systems plug into)
5. the systems: ``tasks``, ``approvals``, ``learning``, ``guardian``, ``selfheal``,
   ``missions``, ``chat``
6. ``store``: the engines (they implement the systems' store contracts), ``helpers``
7. ``app`` (the composition root)
8. ``api``; ``client`` (which imports only layers 0 and 1: the protocol, never the server)
9. ``cli``, ``demo``, the package itself

Imports inside ``if TYPE_CHECKING:`` count too: a type that needs an upward import is a sign
that the part should receive a narrower contract.
"""

from __future__ import annotations

import ast
import asyncio
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "grace_chat"

#: Longest matching prefix wins.
LAYERS: dict[str, int] = {
    "grace_chat.errors": 0,
    "grace_chat.config": 1,
    "grace_chat.protocol": 1,
    "grace_chat.frames": 1,
    "grace_chat.asyncapi": 1,
    "grace_chat.events": 1,
    "grace_chat.auth": 1,
    "grace_chat.records": 1,
    "grace_chat.metrics": 1,
    "grace_chat.target": 1,
    "grace_chat.extras": 1,
    "grace_chat.hub": 2,
    "grace_chat.notifications": 3,
    "grace_chat.commands": 4,
    "grace_chat.status": 4,
    "grace_chat.component": 4,
    "grace_chat.cluster": 4,
    "grace_chat.tasks": 5,
    "grace_chat.approvals": 5,
    "grace_chat.learning": 5,
    "grace_chat.guardian": 5,
    "grace_chat.selfheal": 5,
    "grace_chat.missions": 5,
    "grace_chat.chat": 5,
    "grace_chat.store": 6,
    "grace_chat.helpers": 6,
    "grace_chat.app": 7,
    "grace_chat.telemetry": 7,
    "grace_chat.api": 8,
    "grace_chat.client": 8,
    "grace_chat.cli": 9,
    "grace_chat.demo": 9,
    "grace_chat": 9,
}

#: The packages that must know nothing of the application object or the HTTP layer.
DOMAIN = (
    "grace_chat.tasks",
    "grace_chat.approvals",
    "grace_chat.learning",
    "grace_chat.guardian",
    "grace_chat.selfheal",
    "grace_chat.missions",
    "grace_chat.chat",
    "grace_chat.notifications",
    "grace_chat.store",
    "grace_chat.hub",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(name: str) -> int:
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[best]


def grace_imports(path: Path, name: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a ``grace`` module in the file of module ``name``,
    wherever it stands in the file."""
    found: list[tuple[int, str]] = []
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "grace_chat"
            ]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = (package or name).split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "grace_chat":
                continue
            # ``from grace_chat import helpers`` names a module;
            # ``from grace_chat.x import Y`` does not
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.append((node.lineno, candidate if candidate in MODULES else target))
    return found


def test_the_import_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a domain module importing the application, even only for typing,
    is reported."""
    source = tmp_path / "runner.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from grace_chat.app import Grace\n"
        "from ..approvals import gateway\n"
    )
    imports = sorted(m for _, m in grace_imports(source, "grace_chat.tasks.runner"))
    assert imports == ["grace_chat.app", "grace_chat.approvals.gateway"]
    assert layer("grace_chat.app") > layer("grace_chat.tasks.runner")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_layer_above_its_own(name: str) -> None:
    own = layer(name)
    upward = [
        f"line {line}: {target} (layer {layer(target)})"
        for line, target in grace_imports(MODULES[name], name)
        if layer(target) > own
    ]
    assert not upward, f"{name} (layer {own}) imports upward: " + "; ".join(upward)


@pytest.mark.parametrize("name", [m for m in sorted(MODULES) if m.startswith(DOMAIN)])
def test_domain_modules_never_import_the_application_or_the_api(name: str) -> None:
    offending = [
        f"line {line}: {target}"
        for line, target in grace_imports(MODULES[name], name)
        if target == "grace_chat.app" or target.startswith(("grace_chat.app.", "grace_chat.api"))
    ]
    assert not offending, f"{name} imports " + "; ".join(offending)


@pytest.mark.parametrize("name", [m for m in sorted(MODULES) if m.startswith("grace_chat.client")])
def test_the_client_imports_only_the_protocol_level(name: str) -> None:
    """``grace_chat.client`` runs in other programs: it needs the protocol, never the server."""
    offending = [
        f"line {line}: {target} (layer {layer(target)})"
        for line, target in grace_imports(MODULES[name], name)
        if layer(target) > 1 and not target.startswith("grace_chat.client")
    ]
    assert not offending, f"{name} imports " + "; ".join(offending)


async def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    """No module works only because another was imported first."""
    gate = asyncio.Semaphore(4)

    async def load(name: str) -> tuple[str, int, str]:
        async with gate:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                f"import {name}",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate()
            assert proc.returncode is not None
            return name, proc.returncode, err.decode()[-600:]

    results = await asyncio.gather(*(load(n) for n in sorted(MODULES)))
    failed = [f"{name}: {err}" for name, code, err in results if code != 0]
    assert not failed, "\n".join(failed)
