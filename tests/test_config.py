"""Settings: defaults for the embedded set-up, ``GRACE_*`` variables, flags, ``grace.toml``."""

from __future__ import annotations

from pathlib import Path

import pytest

from grace_chat.config import Settings, is_loopback
from grace_chat.errors import ConfigError


def test_the_defaults_are_the_embedded_single_process_set_up() -> None:
    s = Settings()
    assert s.resolved_database_url == f"sqlite:///{Path('.grace') / 'grace.db'}"
    assert s.host == "127.0.0.1" and not s.no_auth and s.sqlite_synchronous == "FULL"


def test_environment_variables_are_read_and_flags_win(tmp_path: Path) -> None:
    env = {
        "GRACE_DATA_DIR": str(tmp_path / "d"),
        "GRACE_PORT": "9001",
        "GRACE_ALLOWED_ORIGINS": "https://a.example, https://b.example,",
        "GRACE_DEFAULT_RECIPIENTS": "ops",
        "GRACE_RETENTION_DAYS": "2.5",
        "GRACE_NO_AUTH": "true",
        "GRACE_LOG_LEVEL": "debug",
        "GRACE_AWAY_DIGEST_THRESHOLD": "7",
    }
    s = Settings.from_env(env, port=9002, log_level=None)
    assert s.data_dir == tmp_path / "d" and s.port == 9002 and s.log_level == "debug"
    assert s.allowed_origins == ("https://a.example", "https://b.example")
    assert s.default_recipients == ("ops",) and s.retention_days == 2.5 and s.no_auth
    assert s.away_digest_threshold == 7 and Settings().away_digest_threshold == 20


def test_a_postgresql_url_and_its_pool_size_come_from_the_environment() -> None:
    url = "postgresql://grace@db.internal:5432/grace"
    s = Settings.from_env({"GRACE_DATABASE_URL": url, "GRACE_POSTGRES_POOL_SIZE": "4"})
    assert s.resolved_database_url == url and s.postgres_pool_size == 4
    assert Settings().postgres_pool_size == 10


def test_the_commit_window_and_websocket_compression_come_from_the_environment() -> None:
    s = Settings.from_env({"GRACE_SQLITE_COMMIT_WINDOW_MS": "0.5", "GRACE_WS_DEFLATE": "on"})
    assert s.sqlite_commit_window_ms == 0.5 and s.ws_deflate
    off = Settings.from_env({"GRACE_WS_DEFLATE": "0"})
    assert not off.ws_deflate and off.sqlite_commit_window_ms == Settings().sqlite_commit_window_ms


def test_a_number_that_is_not_one_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="GRACE_PORT must be a number, got 'eighty'"):
        Settings.from_env({"GRACE_PORT": "eighty"})


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"sqlite_cache_mib": 0}, "sqlite_cache_mib"),
        ({"postgres_pool_size": 0}, "postgres_pool_size"),
        ({"sqlite_synchronous": "sometimes"}, "sqlite_synchronous"),
        ({"retention_count": 0}, "retention_count"),
        ({"task_concurrency": 0}, "task_concurrency"),
        ({"queue_max_frames": 0}, "queue_max_frames"),
        ({"away_digest_threshold": -1}, "away_digest_threshold"),
        ({"sqlite_commit_window_ms": -1}, "sqlite_commit_window_ms"),
        ({"sqlite_commit_window_ms": 5000}, "sqlite_commit_window_ms"),
    ],
)
def test_impossible_values_are_refused_at_start(changes: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Settings(**changes)  # type: ignore[arg-type]


def test_no_auth_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no-auth"):
        Settings(data_dir=tmp_path, no_auth=True, host="0.0.0.0")
    assert Settings(data_dir=tmp_path, no_auth=True, host="::1").no_auth
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and not is_loopback("10.0.0.1")


def test_grace_toml_is_found_in_the_data_directory_and_its_sections_are_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "grace.toml").write_text(
        '[tasks.backup]\ncommand = "echo ok"\n\n[guardian]\ninterval = 5\n'
    )
    s = Settings.from_env({"GRACE_DATA_DIR": str(tmp_path)})
    assert s.tasks_config == {"backup": {"command": "echo ok"}}
    assert s.section("guardian") == {"interval": 5} and s.section("missions") == {}


def test_a_bad_or_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.from_env({}, data_dir=tmp_path, config_file=str(tmp_path / "nope.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("[tasks\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.from_env({}, data_dir=tmp_path, config_file=str(broken))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[taks]\n")
    with pytest.raises(ConfigError, match="unknown sections: taks"):
        Settings.from_env({}, data_dir=tmp_path, config_file=str(unknown))


def test_settings_are_frozen_and_changed_by_copy() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]
    assert s.with_(port=1).port == 1 and s.port == 8000
