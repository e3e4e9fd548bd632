"""Structured logs (``GRACE_LOG_FORMAT=json``) and the access log (``GRACE_ACCESS_LOG``), read
from a real ``grace serve`` process's log: one JSON object per line, no credential anywhere."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import httpx
import pytest

from grace_chat.config import Settings
from grace_chat.errors import ConfigError
from grace_chat.logformat import JsonFormatter
from tests.support.served import grace_serve


def requests(url: str, token: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        bearer = {"Authorization": f"Bearer {token}"}
        assert http.get("/api/notifications", headers=bearer).status_code == 200
        # a token in a query string (as a careless client might send it) is logged redacted
        assert http.get(f"/api/health?token={token}").status_code == 200
        assert http.get("/no/such/page", headers={"Cookie": f"grace_session={token}"}).is_error


def test_json_logs_with_the_access_log_hold_no_secret(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    env = {"GRACE_LOG_FORMAT": "json", "GRACE_ACCESS_LOG": "true"}
    with grace_serve(tmp_path / "data", env, log=log) as served:
        requests(served.url, served.token)
        token = served.token
    text = log.read_text()
    assert token not in text
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
        assert record["time"].endswith("Z")
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    by_path = {r["path"].partition("?")[0]: r for r in access}
    assert by_path["/api/notifications"]["status"] == 200
    assert by_path["/api/notifications"]["method"] == "GET"
    assert by_path["/api/health"]["path"] == "/api/health?token=[redacted]"
    assert by_path["/no/such/page"]["status"] == 404
    assert by_path["/api/health"]["client"].startswith("127.0.0.1")


def test_the_access_log_is_off_by_default(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with grace_serve(tmp_path / "data", {"GRACE_LOG_FORMAT": "json"}, log=log) as served:
        requests(served.url, served.token)
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert not [r for r in records if r["logger"] == "uvicorn.access"]


def test_a_record_s_fields_are_written_and_secrets_blanked() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl"
    logger = logging.getLogger("grace_chat.test")
    try:
        raise ValueError(f"bad token {jwt}")
    except ValueError:
        record = logger.makeRecord(
            logger.name,
            logging.WARNING,
            __file__,
            1,
            "user %s sent %s",
            ("ann", f"Bearer {jwt}"),
            sys.exc_info(),
            extra={
                "user_id": "ann",
                "seq": 7,
                "token": "plain-secret",
                "request": {"headers": {"Authorization": "Bearer abc", "Accept": "*/*"}},
            },
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert out["level"] == "warning" and out["logger"] == "grace_chat.test"
    assert out["message"] == "user ann sent Bearer [redacted]"
    assert out["user_id"] == "ann" and out["seq"] == 7
    assert out["token"] == "[redacted]"
    assert out["request"] == {"headers": {"Authorization": "[redacted]", "Accept": "*/*"}}
    assert "ValueError" in out["exception"]
    assert jwt not in line and "plain-secret" not in line and "abc" not in line


def test_the_log_settings_are_read_and_checked() -> None:
    env = {"GRACE_LOG_FORMAT": "JSON", "GRACE_ACCESS_LOG": "1", "GRACE_METRICS_ALLOW": "none"}
    settings = Settings.from_env(env)
    assert (settings.log_format, settings.access_log, settings.metrics_allow) == ("json", True, ())
    default = Settings.from_env({})
    assert (default.log_format, default.access_log) == ("text", False)
    assert default.metrics_allowed("127.0.0.1") and default.metrics_allowed("::1")
    assert not default.metrics_allowed("10.1.2.3")
    with pytest.raises(ConfigError, match="log_format"):
        Settings.from_env({"GRACE_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="metrics_allow"):
        Settings.from_env({"GRACE_METRICS_ALLOW": "10.0.0.0/33"})
