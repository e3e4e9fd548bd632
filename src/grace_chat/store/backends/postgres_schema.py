"""The PostgreSQL engine's tables, and the versions that bring a database to them.

``MIGRATIONS`` is the ordered list of schema versions; ``migrate`` applies the ones a database
lacks, each in the transaction that records it in ``schema_version``, while holding an advisory
lock, so processes starting together on one database never race each other's DDL (the second
waits, then finds the work done). A database whose version is newer than the last one here is
refused: this process would not know what the newer tables mean.

Version 1 holds every store's tables. The notification log keeps the embedded engine's layout
(schema 3 there): a notification's body once in ``bodies``, one small row per recipient in
``entries`` keyed by user and ``seq``, and each user's last ``seq`` and unread count in
``user_log``, whose row is the lock that orders a user's appends across processes. Body numbers
(and so notification ids) come from a sequence, never reused. Knowledge passages carry a
``tsvector`` with a GIN index, made by the ``grace_english`` configuration: PostgreSQL's
``english`` with its stemmer but without its stop words, as the embedded engine's FTS5 ``porter``
tokenizer stems every word and drops none. The audit log refuses UPDATE, DELETE and TRUNCATE
with triggers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grace_chat.errors import ConfigError

if TYPE_CHECKING:
    import asyncpg

#: Held (per transaction) while a process checks and applies schema versions.
MIGRATION_LOCK = 0x67726163_65736368  # "gracesch"

SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""

V1_NOTIFICATIONS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE user_log (
    user_id TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    unread BIGINT NOT NULL DEFAULT 0
);
CREATE SEQUENCE body_numbers;
CREATE TABLE bodies (
    body BIGINT PRIMARY KEY,
    type TEXT NOT NULL,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    badge TEXT NOT NULL,
    severity TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    data BYTEA NOT NULL,
    actions BYTEA NOT NULL
);
CREATE INDEX bodies_created ON bodies (created);
CREATE TABLE entries (
    user_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    body BIGINT NOT NULL,
    read BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX entries_body ON entries (body);
"""

V1_TASKS = """
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    state TEXT NOT NULL,
    params BYTEA NOT NULL,
    title TEXT NOT NULL,
    progress DOUBLE PRECISION,
    note TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    result BYTEA,
    error TEXT,
    pause_requested BOOLEAN NOT NULL DEFAULT false,
    parent TEXT,
    owner BIGINT
);
CREATE INDEX tasks_user ON tasks (user_id, created_at);
CREATE INDEX tasks_active ON tasks (state)
    WHERE state IN ('queued', 'running', 'paused', 'cancelling');
CREATE TABLE task_log (
    id BIGSERIAL PRIMARY KEY,
    task_id TEXT NOT NULL,
    t DOUBLE PRECISION NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX task_log_task ON task_log (task_id, id);
"""

V1_APPROVALS = """
CREATE TABLE approvals (
    approval_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    action_type TEXT NOT NULL,
    agent TEXT NOT NULL,
    params BYTEA NOT NULL,
    trace_id TEXT,
    message TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION,
    decided_at DOUBLE PRECISION,
    decided_by TEXT,
    reason TEXT
);
CREATE INDEX approvals_user ON approvals (user_id, created_at);
CREATE INDEX approvals_pending ON approvals (expires_at) WHERE state = 'pending';
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT,
    approval_id TEXT,
    action_type TEXT NOT NULL,
    agent TEXT NOT NULL,
    params BYTEA NOT NULL,
    trace_id TEXT,
    channel TEXT,
    detail TEXT
);
CREATE INDEX audit_subject ON audit_log (subject, id);
CREATE INDEX audit_approval ON audit_log (approval_id, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""

V1_HEALING = """
CREATE TABLE healing_attempts (
    attempt_id TEXT PRIMARY KEY,
    playbook TEXT NOT NULL,
    strategy TEXT NOT NULL,
    incident TEXT NOT NULL,
    trigger TEXT NOT NULL,
    user_id TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX healing_incident ON healing_attempts (incident, started_at);
CREATE INDEX healing_user ON healing_attempts (user_id, started_at);
"""

V1_MISSIONS = """
CREATE TABLE missions (
    mission_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL,
    steps BYTEA NOT NULL,
    state TEXT NOT NULL,
    current INTEGER NOT NULL,
    task_ids BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    error TEXT,
    owner BIGINT
);
CREATE INDEX missions_user ON missions (user_id, created_at);
"""

V1_CHAT = """
CREATE TABLE chat_messages (
    id BIGSERIAL PRIMARY KEY,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    data BYTEA NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE INDEX chat_messages_user ON chat_messages (user_id, id);
"""

V1_KNOWLEDGE = """
CREATE TEXT SEARCH DICTIONARY grace_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION grace_english (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION grace_english
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
    WITH grace_stem;
CREATE TABLE knowledge_documents (
    document_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    origin TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    chars BIGINT NOT NULL,
    passages INTEGER NOT NULL,
    trust DOUBLE PRECISION NOT NULL,
    detail BYTEA NOT NULL,
    task_id TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX knowledge_documents_user ON knowledge_documents (user_id, name);
CREATE TABLE knowledge_passages (
    document_id TEXT NOT NULL REFERENCES knowledge_documents ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    words TSVECTOR GENERATED ALWAYS AS (to_tsvector('grace_english', text)) STORED,
    PRIMARY KEY (document_id, ordinal)
);
CREATE INDEX knowledge_passages_words ON knowledge_passages USING GIN (words);
"""

V1_PREFERENCES = """
CREATE TABLE notification_modes (
    user_id TEXT NOT NULL,
    type TEXT NOT NULL,
    mode TEXT NOT NULL,
    PRIMARY KEY (user_id, type)
);
CREATE TABLE archived_notifications (
    user_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (user_id, seq)
);
"""

V1_LEARNING = """
CREATE TABLE learning_gates (
    user_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    changed_at DOUBLE PRECISION,
    changed_by TEXT
);
CREATE TABLE learning_jobs (
    task_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    origin TEXT NOT NULL,
    owned BOOLEAN NOT NULL,
    state TEXT NOT NULL,
    submitted_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION
);
CREATE INDEX learning_jobs_order ON learning_jobs (state, submitted_at);
CREATE TABLE learning_watch (
    path TEXT PRIMARY KEY,
    signature TEXT NOT NULL
);
"""

#: Version 2: the cluster. Each process's heartbeat (``cluster_processes``), each active task's
#: (``tasks.heartbeat_at``, moved by its owner), and the commands one process hands to another
#: (``control_requests``: stored first, then applied once by the owner, which stores its reply).
V2_CLUSTER = """
CREATE TABLE cluster_processes (
    instance BIGINT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE tasks ADD COLUMN heartbeat_at TIMESTAMPTZ;
CREATE INDEX tasks_owner ON tasks (owner)
    WHERE state IN ('queued', 'running', 'paused', 'cancelling');
CREATE TABLE control_requests (
    request_id TEXT PRIMARY KEY,
    owner BIGINT NOT NULL,
    requester BIGINT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    caller TEXT NOT NULL,
    admin BOOLEAN NOT NULL,
    args BYTEA NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'applying', 'done', 'withdrawn')),
    reply BYTEA,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    done_at TIMESTAMPTZ
);
CREATE INDEX control_requests_pending ON control_requests (owner) WHERE state = 'pending';
CREATE INDEX control_requests_created ON control_requests (created_at);
"""

#: ``(version, description, DDL)``, oldest first; a version is never edited once released.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "every store: notification log, tasks, approvals and audit, healing, missions, chat, "
        "knowledge, learning",
        V1_NOTIFICATIONS
        + V1_TASKS
        + V1_APPROVALS
        + V1_HEALING
        + V1_MISSIONS
        + V1_CHAT
        + V1_KNOWLEDGE
        + V1_LEARNING
        + V1_PREFERENCES,
    ),
    (2, "the cluster: process heartbeats, task heartbeats, control requests", V2_CLUSTER),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

#: Every object the migrations create, for ``drop_everything``.
TABLES = (
    "schema_version", "meta", "user_log", "bodies", "entries", "tasks", "task_log", "approvals",
    "audit_log", "healing_attempts", "missions", "chat_messages", "knowledge_passages",
    "knowledge_documents", "learning_gates", "learning_jobs", "learning_watch",
    "notification_modes", "archived_notifications", "cluster_processes", "control_requests",
)  # fmt: skip


def too_new(found: int, where: str) -> ConfigError:
    return ConfigError(
        f"the database at {where} has schema version {found}, newer than this Grace understands "
        f"({SCHEMA_VERSION}); run the newer Grace or point GRACE_DATABASE_URL elsewhere"
    )


async def migrate(conn: asyncpg.Connection, where: str) -> int:
    """Bring the database to ``SCHEMA_VERSION``; returns the version it was at (0: empty).
    ``where`` names the database in the refusal (never with its password)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        if await conn.fetchval("SELECT current_schema()") is None:
            raise ConfigError(
                f"the database at {where} has no schema to create Grace's tables in: "
                "its search_path names none that exists"
            )
        await conn.execute(SCHEMA_VERSION_TABLE)
        found = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
        if found > SCHEMA_VERSION:
            raise too_new(found, where)
        for version, description, ddl in MIGRATIONS:
            if version > found:
                await conn.execute(ddl)
                await conn.execute(
                    "INSERT INTO schema_version (version, description) VALUES ($1, $2)",
                    version,
                    description,
                )
        return found


def drop_everything() -> str:
    """SQL that drops every object of Grace's schema (benchmarks and tests start afresh)."""
    return (
        f"DROP TABLE IF EXISTS {', '.join(TABLES)} CASCADE; "
        "DROP SEQUENCE IF EXISTS body_numbers; "
        "DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE; "
        "DROP TEXT SEARCH CONFIGURATION IF EXISTS grace_english; "
        "DROP TEXT SEARCH DICTIONARY IF EXISTS grace_stem;"
    )


async def migrate_url(url: str) -> None:
    """Connect to ``url`` and migrate it (benchmarks and tools)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, "the benchmark's database")
    finally:
        await conn.close()
