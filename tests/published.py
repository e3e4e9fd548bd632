"""The protocol's published documents and every committed copy of them.

``protocol_schema()`` (JSON Schema of commands and frames) and ``asyncapi_document()`` (AsyncAPI
3.0) are committed where users find them: in the wheel (``grace_chat/schema``), in the npm client
package, and under ``docs/``. ``tests/test_protocol_schema.py`` and ``tests/test_asyncapi.py``
fail when a copy differs from what the code generates; rewrite them all with:

    .venv/bin/python -m tests.published
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grace_chat.asyncapi import asyncapi_document
from grace_chat.protocol import protocol_schema

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = ".venv/bin/python -m tests.published"

SCHEMA_COPIES = (
    ROOT / "src" / "grace_chat" / "schema" / "protocol.schema.json",
    ROOT / "web" / "packages" / "client" / "protocol.schema.json",
)
ASYNCAPI_COPIES = (
    ROOT / "src" / "grace_chat" / "schema" / "asyncapi.json",
    ROOT / "docs" / "asyncapi.json",
)
DOCUMENTS: dict[Path, Callable[[], dict[str, Any]]] = {
    **{path: protocol_schema for path in SCHEMA_COPIES},
    **{path: asyncapi_document for path in ASYNCAPI_COPIES},
}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def stale(paths: tuple[Path, ...]) -> list[str]:
    """The copies among ``paths`` that differ from the generated document (relative paths)."""
    return [
        str(path.relative_to(ROOT))
        for path in paths
        if not path.exists() or path.read_text() != render(DOCUMENTS[path]())
    ]


def main() -> None:
    for path, generate in DOCUMENTS.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(generate()))
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
