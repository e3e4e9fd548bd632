"""The TypeScript client's copy of the protocol (web/src/protocol.schema.json) is the server's.

The web tests (web/src/protocol.test.ts) check the TypeScript declarations against that file, so a
change on either side fails a test until both agree. Regenerate the file with:

    .venv/bin/python -c "import json; from grace.protocol import protocol_schema; \\
      print(json.dumps(protocol_schema(), indent=2, sort_keys=True))" > web/src/protocol.schema.json
"""

from __future__ import annotations

import json
from pathlib import Path

from grace.protocol import protocol_schema
from tests.support import Running

SCHEMA = Path(__file__).resolve().parent.parent / "web" / "src" / "protocol.schema.json"


def test_committed_schema_matches_the_server() -> None:
    committed = json.loads(SCHEMA.read_text())
    assert committed == json.loads(json.dumps(protocol_schema())), (
        f"{SCHEMA} is out of date with grace.protocol: regenerate it (see this test's docstring) "
        "and update web/src/protocol.ts to match"
    )


async def test_the_server_publishes_the_same_schema(server: Running) -> None:
    async with server.http() as http:
        response = await http.get("/api/protocol")
    assert response.status_code == 200
    assert response.json() == json.loads(SCHEMA.read_text())
