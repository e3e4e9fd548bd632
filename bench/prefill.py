"""A fast pre-fill of a Grace data directory: a notification log of N entries already on disk.

``python -m bench.prefill --data-dir DIR --entries N [--users U] [--per-body P]`` writes the
embedded store's own tables (``grace.db`` in ``DIR``, the schema of
``grace_chat.store.backends.sqlite_schema``) directly, in a few large statements that SQLite
runs in C (a recursive row generator, no Python per row), instead of publishing N times. The
result is what Grace would have left after publishing the same notifications:

* each notification's body is stored once (``bodies``) and goes to ``P`` users (a group of
  neighbouring users, so one user sees every ``G``-th body, ``G = ceil(U / P)``); one ``entries``
  row per recipient;
* each user's ``seq`` runs 1, 2, ... without a hole, and within a user ``seq`` and ``body`` rise
  together, as the writer numbers them;
* ``user_log`` holds each user's last ``seq`` and unread count (the newest ``--unread`` of each
  user are unread, the older ones read); ``meta`` holds the schema version, the epoch and the
  last body number;
* the creation times are spread over the last ``--span-hours`` (recent enough for the default
  30-day retention), and each user keeps fewer entries than the retention count, so Grace's
  start-up retention pass removes nothing (the command refuses sizes it would prune).

Users are ``u0 .. u{U-1}``, the benchmark's own names, so a benchmark's users already have a
history in the log. ``--cache-dir DIR`` keeps each filled directory there by size and reuses it
(``cached_fill``); the curves copy a cached directory per run since a run changes it. A fill
made under an older schema version stays usable: Grace converts the copy when it opens it, as it
would an older store.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.common import BADGE, MESSAGE, NOTIFICATION_TYPE
from grace_chat.store.backends.sqlite_schema import SCHEMA, SCHEMA_VERSION

DB_NAME = "grace.db"
#: Grace's default per-user retention count: a fill above it would be pruned at start-up.
RETENTION_COUNT = 10_000
#: Bump when the layout of a fill changes, so cached fills are not reused.
FILL_VERSION = "1"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "grace-bench-prefill"


@dataclass(frozen=True)
class Fill:
    entries: int
    users: int
    per_body: int = 10
    unread: int = 10
    span_hours: float = 24.0

    @property
    def groups(self) -> int:
        return math.ceil(self.users / self.per_body)

    def key(self) -> str:
        return f"v{FILL_VERSION}-e{self.entries}-u{self.users}-p{self.per_body}-r{self.unread}"


def _per_user(fill: Fill) -> list[int]:
    """How many entries each user gets: bodies go round the groups, ``per_body`` users a body
    (the last group may be smaller); the total is ``fill.entries`` (or a little over, when the
    last body's group has room left)."""
    sizes = [min(fill.per_body, fill.users - g * fill.per_body) for g in range(fill.groups)]
    bodies_per_round = fill.groups
    entries_per_round = fill.users
    rounds, rest = divmod(fill.entries, entries_per_round)
    counts = [rounds] * fill.groups  # bodies per group
    g = 0
    while rest > 0:
        counts[g] += 1
        rest -= sizes[g]
        g += 1
    assert g <= bodies_per_round
    return counts


def prefill(
    data_dir: Path, fill: Fill, *, retention: int = RETENTION_COUNT, log: bool = True
) -> dict[str, float]:
    """Write ``fill`` into ``data_dir/grace.db`` (a new file); returns what it wrote, and how
    fast."""
    if fill.users < 1 or fill.entries < 0 or fill.per_body < 1:
        raise ValueError("users and per_body must be at least 1, entries at least 0")
    bodies_of_group = _per_user(fill) if fill.entries else [0] * fill.groups
    if max(bodies_of_group) > retention:
        raise ValueError(
            f"{max(bodies_of_group)} entries for one user is above the retention count "
            f"({retention}): start-up would prune them; use more --users"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DB_NAME
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    # Bulk load: no journal and no fsync while filling; the file is made durable at the end
    # and switched to WAL, as Grace keeps it.
    conn.executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;"
        "PRAGMA temp_store=MEMORY; PRAGMA locking_mode=EXCLUSIVE; PRAGMA threads=4;"
    )
    # The store's schema; the rows go in in key order (users as the key sorts them, then seq),
    # and the indexes are created after the rows are in (one sort each, not an insert
    # in the middle of a B-tree per row).
    tables, indexes = _split_schema(SCHEMA)
    conn.executescript("BEGIN;" + tables + "COMMIT;")
    groups = fill.groups
    total_bodies = sum(bodies_of_group)
    now = time.time()
    step = fill.span_hours * 3600.0 / max(1, total_bodies)
    first_created = now - step * total_bodies
    conn.execute("BEGIN")
    # users(user_id, grp, n): sorted by user_id as text, the entries table's key order.
    conn.execute(
        "CREATE TEMP TABLE fill_users (user_id TEXT PRIMARY KEY, grp INTEGER, n INTEGER) "
        "WITHOUT ROWID"
    )
    conn.executemany(
        "INSERT INTO fill_users VALUES (?, ?, ?)",
        (
            (f"u{u}", u // fill.per_body, bodies_of_group[u // fill.per_body])
            for u in range(fill.users)
        ),
    )
    most = max(bodies_of_group)
    conn.execute("CREATE TEMP TABLE fill_n (i INTEGER PRIMARY KEY)")
    conn.execute(
        "INSERT INTO fill_n WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
        "WHERE i < ?) SELECT i FROM c",
        (max(most, 1),),
    )
    # Body b (1-based) goes to group (b - 1) % G; the i-th body of group g is g + (i-1)*G + 1.
    # Each body with its frame as the store encodes it (schema 4: all but the seq, after the
    # opening brace; ``grace_chat.notifications.model.frame_bytes``).
    conn.execute(
        "INSERT INTO bodies (body, legacy_id, type, title, message, badge, severity, timestamp, "
        "created, data, actions, frame) "
        "SELECT body, NULL, type, title, message, badge, severity, timestamp, created, data, "
        'actions, CAST(\'"type":\' || json_quote(type) || \',"id":"n\' || body || '
        '\'","title":\' || json_quote(title) || \',"message":\' || json_quote(message) || '
        "',\"badge\":' || json_quote(badge) || ',\"severity\":' || json_quote(severity) || "
        "',\"timestamp\":' || json_quote(timestamp) || ',\"data\":' || CAST(data AS TEXT) || "
        "',\"actions\":' || CAST(actions AS TEXT) || ',\"read\":false}' AS BLOB) FROM ("
        "WITH RECURSIVE c(b) AS (SELECT 1 UNION ALL SELECT b + 1 FROM c WHERE b < ?) "
        "SELECT b AS body, ? AS type, ? AS title, ? AS message, ? AS badge, 'info' AS severity, "
        "strftime('%Y-%m-%dT%H:%M:%fZ', ? + b * ?, 'unixepoch') AS timestamp, "
        "? + b * ? AS created, "
        'CAST(printf(\'{"t":%d,"k":%d}\', CAST((? + b * ?) * 1e9 AS INTEGER), b) AS BLOB) '
        "AS data, CAST('[]' AS BLOB) AS actions FROM c WHERE ? > 0)",
        (
            total_bodies,
            NOTIFICATION_TYPE,
            "Task completed",
            MESSAGE,
            BADGE,
            first_created,
            step,
            first_created,
            step,
            first_created,
            step,
            total_bodies,
        ),
    )
    conn.execute(
        "INSERT INTO entries (user_id, seq, body, read) "
        "SELECT u.user_id, s.i, u.grp + (s.i - 1) * ? + 1, s.i <= u.n - ? "
        "FROM fill_users u JOIN fill_n s ON s.i <= u.n",
        (groups, fill.unread),
    )
    conn.execute(
        "INSERT INTO user_log (user_id, last_seq, unread) "
        "SELECT user_id, n, MIN(n, ?) FROM fill_users WHERE n > 0 ORDER BY user_id",
        (fill.unread,),
    )
    conn.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        [
            ("schema_version", SCHEMA_VERSION),
            ("epoch", uuid.uuid4().hex[:16]),
            ("last_body", str(total_bodies)),
        ],
    )
    conn.execute("COMMIT")
    filled = time.perf_counter()
    conn.executescript("BEGIN;" + indexes + "COMMIT;")
    conn.execute("DROP TABLE temp.fill_users")
    conn.execute("DROP TABLE temp.fill_n")
    entries = conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    conn.execute("PRAGMA locking_mode=NORMAL")
    conn.execute("PRAGMA journal_mode=WAL").fetchall()
    conn.close()
    # Durable once: one fsync of the finished file.
    with path.open("rb+") as f:
        os.fsync(f.fileno())
    done = time.perf_counter()
    figures = {
        "entries": float(entries),
        "bodies": float(total_bodies),
        "users": float(fill.users),
        "fill_s": filled - started,
        "index_s": done - filled,
        "seconds": done - started,
        "entries_per_s": entries / (done - started) if done > started else 0.0,
        "bytes": float(path.stat().st_size),
    }
    if log:
        print(
            f"prefill: {entries:,} entries ({total_bodies:,} bodies, {fill.users:,} users) in "
            f"{figures['seconds']:.1f}s (rows {figures['fill_s']:.1f}s, indexes "
            f"{figures['index_s']:.1f}s): {figures['entries_per_s']:,.0f} entries/s, "
            f"{figures['bytes'] / 2**20:,.0f} MiB",
            flush=True,
        )
    return figures


def _split_schema(schema: str) -> tuple[str, str]:
    """The schema's ``CREATE TABLE`` statements and its ``CREATE INDEX`` statements."""
    statements = [s.strip() for s in schema.split(";") if s.strip()]
    tables = [s for s in statements if not s.upper().startswith(("CREATE INDEX", "CREATE UNIQUE"))]
    indexes = [s for s in statements if s.upper().startswith(("CREATE INDEX", "CREATE UNIQUE"))]
    return "".join(f"{s};" for s in tables), "".join(f"{s};" for s in indexes)


def cached_fill(cache_dir: Path, fill: Fill, retention: int = RETENTION_COUNT) -> Path:
    """A filled data directory for ``fill`` under ``cache_dir`` (filled now if not there yet).
    Treat it as read-only: copy it (``copy_fill``) before a server opens it."""
    target = cache_dir / fill.key()
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    prefill(target, fill, retention=retention)
    (target / ".complete").write_text("ok\n")
    return target


def copy_fill(source: Path, dest: Path) -> Path:
    """Copy a filled data directory to ``dest`` (a reflink where the file system has them),
    flushed to disk, so that the kernel's write-back of the copy does not run during a
    measurement."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name.startswith(DB_NAME):
            subprocess.run(["cp", "--reflink=auto", str(item), str(dest / item.name)], check=True)
            with (dest / item.name).open("rb+") as f:
                os.fsync(f.fileno())
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prefill", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="fill this directory (replaces its log)")
    parser.add_argument("--cache-dir", type=Path, help="or fill (or reuse) a cached one here")
    parser.add_argument("--entries", type=int, required=True)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--per-body", type=int, default=10, help="recipients per notification")
    parser.add_argument("--unread", type=int, default=10, help="unread entries per user")
    parser.add_argument(
        "--retention-count",
        type=int,
        default=RETENTION_COUNT,
        help="the server's GRACE_RETENTION_COUNT: no user may have more entries",
    )
    args = parser.parse_args(argv)
    fill = Fill(args.entries, args.users, args.per_body, args.unread)
    try:
        if args.data_dir is not None:
            prefill(args.data_dir, fill, retention=args.retention_count)
        else:
            print(cached_fill(args.cache_dir or DEFAULT_CACHE, fill, args.retention_count))
    except ValueError as exc:
        print(f"prefill: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
