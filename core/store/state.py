"""The state database (``DATA_DIR/state.sqlite``): what outlives index switches.

Users, sessions and API tokens; answers, feedback and agents' reports; knowledge gaps; flags'
review states, their audit trail, "marked reviewed" dates and owner reassignments. Its schema
is the numbered list below, applied once when :func:`connect` opens the file (never on a
request path). A database written by kb 0.1.0, which made its tables on demand, upgrades in
place: migration 1 is that schema verbatim, so it applies over it without touching a row.

With ``KB_DATABASE_URL`` the same list makes the schema in Postgres (``core/store/pg.py``):
scripts are written for SQLite and translated (types, ``AUTOINCREMENT``; anything without a
translation is refused, and ``tests/core/store`` compares the two schemas), functions take
either connection and use SQL both engines accept (``core/store/db.py`` holds the helpers
that differ). There, only ``kb db upgrade`` migrates: :func:`connect` refuses a schema older
or newer than this kb's, since other instances may be serving from it.
"""

from __future__ import annotations

from pathlib import Path

from core.store.db import (
    Connection,
    Migration,
    applied_migrations,
    now_iso,
    open_db,
    table_names,
)

#: "kbst": marks a state database
APP_ID = 0x6B627374
#: tables kb 0.1.0 created by opening the state DB as a catalog; always empty there
CATALOG_LEFTOVERS = ("chunks", "articles", "flags", "kv")


#: failed sign-ins per user name and client address (``assistant/web/ratelimit.py``), shared
#: by every instance and worker using this state DB; rows older than the window are deleted
LOGIN_ATTEMPTS = """
    CREATE TABLE IF NOT EXISTS login_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at REAL NOT NULL);
    CREATE INDEX IF NOT EXISTS login_attempts_key ON login_attempts(key, at);
    """


def _drop_catalog_leftovers(conn: Connection) -> None:
    tables = table_names(conn)
    for table in CATALOG_LEFTOVERS:
        if table in tables and not conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
            conn.execute(f"DROP TABLE {table}")


MIGRATIONS: list[Migration] = [
    # 1: kb 0.1.0's tables (users.py, usage.py, gaps.py, review.py, review_queue.py made them)
    """
    CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY, role TEXT NOT NULL, groups TEXT NOT NULL,
        password_hash TEXT NOT NULL, created_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS api_tokens (
        digest TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        created_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS sessions (
        digest TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        expires_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS answers (
        id TEXT PRIMARY KEY, asked_at TEXT NOT NULL, asked_by TEXT, question TEXT NOT NULL,
        answered INTEGER NOT NULL, confidence REAL, cited TEXT NOT NULL,
        stale_cited INTEGER NOT NULL, latency_ms REAL);
    CREATE INDEX IF NOT EXISTS answers_at ON answers(asked_at);
    CREATE TABLE IF NOT EXISTS feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT, answer_id TEXT NOT NULL, given_by TEXT,
        helpful INTEGER NOT NULL, comment TEXT, given_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT, answer_id TEXT NOT NULL, article_id TEXT NOT NULL,
        kind TEXT NOT NULL, comment TEXT, reported_by TEXT, reported_at TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS reports_article ON reports(article_id);
    CREATE TABLE IF NOT EXISTS gaps (
        id INTEGER PRIMARY KEY AUTOINCREMENT, question TEXT NOT NULL, reason TEXT NOT NULL,
        asked_by TEXT, confidence REAL, asked_at TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS gaps_at ON gaps(asked_at);
    CREATE TABLE IF NOT EXISTS flag_states (
        article_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'fixed', 'dismissed')),
        severity TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL,
        content_hash TEXT, note TEXT, changed_by TEXT NOT NULL, changed_at TEXT NOT NULL,
        first_seen TEXT NOT NULL, PRIMARY KEY (article_id, kind, key));
    CREATE TABLE IF NOT EXISTS flag_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, kind TEXT NOT NULL,
        key TEXT NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL, from_state TEXT,
        to_state TEXT NOT NULL, note TEXT);
    CREATE INDEX IF NOT EXISTS flag_events_article ON flag_events(article_id, id);
    CREATE TABLE IF NOT EXISTS reviewed_on (
        article_id TEXT PRIMARY KEY, reviewed_on TEXT NOT NULL, by TEXT NOT NULL,
        at TEXT NOT NULL, content_hash TEXT);
    CREATE TABLE IF NOT EXISTS owner_assignments (
        article_id TEXT PRIMARY KEY, owner TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS owner_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, from_owner TEXT,
        to_owner TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL);
    """,
    # 2: kb 0.1.0 opened the state DB as a catalog too, leaving empty catalog tables behind
    _drop_catalog_leftovers,
    # 3: the asker's groups (JSON list, lower case) with each gap: owners see their groups'
    # gaps and those of askers without groups (assistant/gaps.py)
    "ALTER TABLE gaps ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';",
    # 4: imported tickets (tickets/store.py), keyed by their id in the source system (a
    # re-import updates in place); the last demand-coverage runs and each ticket's outcome
    """
    CREATE TABLE IF NOT EXISTS tickets (
        id TEXT PRIMARY KEY, subject TEXT NOT NULL, body TEXT NOT NULL, category TEXT,
        subcategory TEXT, assignment_group TEXT, labels TEXT NOT NULL DEFAULT '[]',
        groups TEXT NOT NULL DEFAULT '[]', opened_at TEXT, resolved_at TEXT, resolution TEXT,
        source TEXT NOT NULL, imported_at TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS tickets_opened ON tickets(opened_at);
    CREATE TABLE IF NOT EXISTS coverage_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run_at TEXT NOT NULL, summary TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS ticket_coverage (
        ticket_id TEXT PRIMARY KEY, run_id INTEGER NOT NULL, covered INTEGER NOT NULL,
        confidence REAL NOT NULL, article_id TEXT, cluster INTEGER);
    """,
    # 5: sign-in attempts, so that every instance sharing the state DB counts them together
    LOGIN_ATTEMPTS,
]


def connect(path: Path, url: str | None = None) -> Connection:
    """Open the state database: the SQLite file at ``path``, created or upgraded first; or,
    with ``url`` (``KB_DATABASE_URL``), Postgres, whose schema must be this kb's."""
    if url:
        from core.store import pg  # psycopg loads only when Postgres is used

        conn = pg.PgConnection(url)
        try:
            pg.check_version(conn, len(MIGRATIONS))
        except BaseException:
            conn.close()
            raise
        return conn
    # kb 0.1.0 wrote no application_id and a user_version that counted *catalog* migrations
    return open_db(path, MIGRATIONS, APP_ID, legacy_version=lambda conn: 0)


def upgrade(path: Path, url: str | None = None) -> tuple[int, int]:
    """``kb db upgrade``: apply the missing migrations; returns the schema before and after.
    Safe to run from several places at once (Postgres serialises them on a lock)."""
    if url:
        from core.store import pg

        conn = pg.PgConnection(url)
        try:
            return pg.upgrade(conn, MIGRATIONS, now_iso)
        finally:
            conn.close()
    before = applied_migrations(path, APP_ID)
    open_db(path, MIGRATIONS, APP_ID, legacy_version=lambda conn: 0).close()
    return before, len(MIGRATIONS)

