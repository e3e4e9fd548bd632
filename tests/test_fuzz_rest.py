"""The REST API fuzzed from its own OpenAPI document (schemathesis) against a real
``grace serve``: valid and invalid requests for every operation, with an admin token. No answer
may be a 5xx, every error answer must be the envelope with a protocol code, and every answer must
conform to what the document declares for the operation: a declared status, its media type and
its schema (``CONFORMANCE``).

Then schemathesis's own runner (``st run``) with every default check, as a user (not an admin)
would: besides conformance, a request the document allows is accepted and one it forbids is
refused, a method a path does not take answers 405 with an ``Allow`` naming every method it does,
and the token is not ignored (``test_the_rest_api_holds_under_the_default_checks``).

Bounded: ``EXAMPLES`` cases per operation and generation mode, no shrinking, no example
database; about 30 s on the 2-core test machine, and ``ST_EXAMPLES`` per operation for the
runner, about 15 s more.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from grace_chat.errors import ErrorCode
from tests.support.served import grace_serve

EXAMPLES = int(os.environ.get("GRACE_FUZZ_EXAMPLES", "20"))
ST_EXAMPLES = int(os.environ.get("GRACE_FUZZ_ST_EXAMPLES", "5"))
#: Left out of the runner: the SSE stream never ends by itself; the upload is multipart (both
#: are fuzzed for conformance above).
ST_EXCLUDED = ["/api/notifications/sse", "/api/learning/documents"]
CODES = {code.value for code in ErrorCode}
#: What schemathesis checks of every answer against the document.
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def problems_with(response: requests.Response) -> str | None:
    """What is wrong with one answer, or ``None``."""
    if response.status_code >= 500:
        return f"answered {response.status_code}: {response.text[:300]}"
    if response.status_code < 400:
        return None
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"{response.status_code} is not JSON: {response.text[:300]}"
    body: Any = response.json()
    if not (
        isinstance(body, dict)
        and set(body) == {"error"}
        and isinstance(body["error"], dict)
        and set(body["error"]) == {"code", "message"}
        and body["error"]["code"] in CODES
        and isinstance(body["error"]["message"], str)
    ):
        return f"{response.status_code} is not the error envelope: {response.text[:300]}"
    return None


def test_the_rest_api_survives_fuzzing_from_its_openapi(tmp_path: Path) -> None:
    with grace_serve(tmp_path / "data") as served, requests.Session() as session:
        auth = {"Authorization": f"Bearer {served.admin_token()}"}
        schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json", timeout=10)
        operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
        assert len(operations) >= 30, [op.label for op in operations]
        calls: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        failures: list[str] = []
        started = time.monotonic()

        def fuzz(operation: Any, mode: GenerationMode) -> None:
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def one(case: Any) -> None:
                if isinstance(case.body, dict) and isinstance(case.body.get("wait"), int | float):
                    # a long poll holds its answer up to five minutes (tests/test_approvals.py
                    # waits on one); here each request must answer within the timeout
                    case.body["wait"] = min(case.body["wait"], 0.5)
                kwargs = case.as_transport_kwargs(base_url=served.url, headers=auth)
                with session.request(**kwargs, stream=True, timeout=15) as response:
                    calls[operation.label] += 1
                    statuses[response.status_code] += 1
                    if response.headers.get("content-type", "").startswith("text/event-stream"):
                        return  # the SSE stream answered; it never ends by itself
                    problem = problems_with(response)
                    assert problem is None, f"{case.as_curl_command()}\n{problem}"
                    case.validate_response(response, checks=CONFORMANCE)

            one()

        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    fuzz(operation, mode)
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # no input of it can be made invalid
                except (Exception, FailureGroup) as exc:  # one operation's; the others still run
                    failures.append(f"{operation.label} ({mode.value}): {exc}")

        elapsed = time.monotonic() - started
        print(
            f"\nfuzzed {len(operations)} operations with {sum(calls.values())} requests "
            f"in {elapsed:.1f} s; statuses {dict(sorted(statuses.items()))}"
        )
        assert not failures, "\n\n".join(failures)
        assert all(calls[op.label] > 0 for op in operations)
        assert served.proc.poll() is None, "the server died"


def test_the_rest_api_holds_under_the_default_checks(tmp_path: Path) -> None:
    with grace_serve(tmp_path / "data") as served:
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{served.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {served.token}",
            "--max-examples",
            str(ST_EXAMPLES),
            "--workers",
            "1",
            "--request-timeout",
            "15",
            "--no-color",
            *(arg for path in ST_EXCLUDED for arg in ("--exclude-path", path)),
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
        )
        report = done.stdout + done.stderr
        assert done.returncode == 0, report[-20000:]
        assert "No issues found" in report or " passed" in report, report[-5000:]
        assert served.proc.poll() is None, "the server died"
