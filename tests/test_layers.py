"""The house: every module imports only from its own layer or below, and each imports alone.

Layers, bottom to top (docs/architecture.md draws them):

0. ``errors``
1. ``config``, ``protocol``, ``events``, ``auth``
2. ``hub``
3. ``notifications`` (with ``notifications.store``, the notification log's contract)
4. ``commands``, ``status``, ``component`` (what the systems plug into)
5. the systems: ``tasks``, ``approvals``, ``learning``, ``guardian``, ``selfheal``,
   ``missions``, ``chat``
6. ``store``: the engines (they implement the systems' store contracts), ``helpers``
7. ``app`` (the composition root)
8. ``api``
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
PACKAGE = SRC / "grace"

#: Longest matching prefix wins.
LAYERS: dict[str, int] = {
    "grace.errors": 0,
    "grace.config": 1,
    "grace.protocol": 1,
    "grace.frames": 1,
    "grace.events": 1,
    "grace.auth": 1,
    "grace.records": 1,
    "grace.hub": 2,
    "grace.notifications": 3,
    "grace.commands": 4,
    "grace.status": 4,
    "grace.component": 4,
    "grace.tasks": 5,
    "grace.approvals": 5,
    "grace.learning": 5,
    "grace.guardian": 5,
    "grace.selfheal": 5,
    "grace.missions": 5,
    "grace.chat": 5,
    "grace.store": 6,
    "grace.helpers": 6,
    "grace.app": 7,
    "grace.api": 8,
    "grace.cli": 9,
    "grace.demo": 9,
    "grace": 9,
}

#: The packages that must know nothing of the application object or the HTTP layer.
DOMAIN = (
    "grace.tasks",
    "grace.approvals",
    "grace.learning",
    "grace.guardian",
    "grace.selfheal",
    "grace.missions",
    "grace.chat",
    "grace.notifications",
    "grace.store",
    "grace.hub",
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
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "grace"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = (package or name).split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "grace":
                continue
            # ``from grace import helpers`` names a module; ``from grace.x import Y`` does not
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.append((node.lineno, candidate if candidate in MODULES else target))
    return found


def test_the_import_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a domain module importing the application, even only for typing,
    is reported."""
    source = tmp_path / "runner.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from grace.app import Grace\n"
        "from ..approvals import gateway\n"
    )
    imports = sorted(m for _, m in grace_imports(source, "grace.tasks.runner"))
    assert imports == ["grace.app", "grace.approvals.gateway"]
    assert layer("grace.app") > layer("grace.tasks.runner")


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
        if target == "grace.app" or target.startswith(("grace.app.", "grace.api"))
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
