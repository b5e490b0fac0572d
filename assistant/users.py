"""Users, roles, groups, sessions and API tokens, kept in the state database.

Passwords are hashed with argon2; API tokens and session ids are random and stored only as
SHA-256 digests, so a copy of the database gives no one a way in. What each role may do is
decided in one place, :data:`PERMISSIONS`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import KbError
from core.store.db import Connection, Row, now_iso
from core.visibility import Audience

ROLES = ("agent", "owner", "lead", "admin")
#: what each role may do; every page and API route names one of these
PERMISSIONS: dict[str, frozenset[str]] = {
    "ask": frozenset(ROLES),
    "review": frozenset({"owner", "admin"}),
    "gaps": frozenset({"owner", "admin"}),
    "metrics": frozenset({"lead", "admin"}),
    "sources": frozenset({"admin"}),
}
DEMO_USERS = (("demo-agent", "agent"), ("demo-owner", "owner"), ("demo-admin", "admin"))
TOKEN_PREFIX = "kb_"
SESSION_HOURS = 12


_hasher = PasswordHasher()
#: verified against when the user does not exist, so timing does not tell names apart
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    name: str
    role: str
    groups: frozenset[str]

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row_user(row: Row) -> User:
    return User(row[0], row[1], frozenset(json.loads(row[2])))


def parse_groups(text: str | None) -> frozenset[str]:
    return frozenset(g.strip().lower() for g in (text or "").split(",") if g.strip())


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _password_hash(password: str) -> str:
    """The argon2 hash kept for a password, which must have 8 characters or more."""
    if len(password) < 8:
        raise KbError("password: at least 8 characters")
    return _hasher.hash(password)


def add_user(conn: Connection, name: str, role: str, groups: frozenset[str],
             password: str) -> User:
    """Create a user; the name must be new, the role known and the password 8+ characters."""
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise KbError(f"user name {name!r}: 1-64 characters, no spaces")
    if role not in ROLES:
        raise KbError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    password_hash = _password_hash(password)
    if get_user(conn, name) is not None:
        raise KbError(f"user {name!r} already exists: 'kb users remove {name}' first")
    with conn:
        conn.execute("INSERT INTO users VALUES (?,?,?,?,?)",
                     (name, role, json.dumps(sorted(groups)), password_hash, now_iso()))
    return User(name, role, groups)


def set_password(conn: Connection, name: str, password: str) -> int:
    """Give a user a new password (8+ characters) and end their sessions, so a browser signed
    in with the old one is signed out; API tokens stay (``revoke_tokens`` ends them).
    Returns how many sessions were ended."""
    password_hash = _password_hash(password)
    with conn:
        found = conn.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                             (password_hash, name)).rowcount
        if not found:
            raise KbError(f"no user {name!r}")
        return conn.execute("DELETE FROM sessions WHERE name = ?", (name,)).rowcount


def get_user(conn: Connection, name: str) -> User | None:
    row = conn.execute("SELECT name, role, groups FROM users WHERE name = ?", (name,)).fetchone()
    return _row_user(row) if row else None


def list_users(conn: Connection) -> list[tuple[User, int]]:
    """Every user with the number of API tokens they hold."""
    rows = conn.execute("SELECT u.name, u.role, u.groups, count(t.digest) FROM users u "
                        "LEFT JOIN api_tokens t ON t.name = u.name GROUP BY u.name "
                        "ORDER BY u.name").fetchall()
    return [(_row_user(r), r[3]) for r in rows]


def remove_user(conn: Connection, name: str) -> None:
    with conn:
        conn.execute("DELETE FROM api_tokens WHERE name = ?", (name,))
        conn.execute("DELETE FROM sessions WHERE name = ?", (name,))
        gone = conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
    if not gone:
        raise KbError(f"no user {name!r}")


def authenticate(conn: Connection, name: str, password: str) -> User | None:
    """The user if the password matches; None otherwise (same work either way)."""
    row = conn.execute("SELECT name, role, groups, password_hash FROM users WHERE name = ?",
                       (name,)).fetchone()
    try:
        _hasher.verify(row[3] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return _row_user(row) if row else None


def issue_token(conn: Connection, name: str) -> str:
    """A new long-lived API token for the user; only its digest is kept."""
    if get_user(conn, name) is None:
        raise KbError(f"no user {name!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with conn:
        conn.execute("INSERT INTO api_tokens VALUES (?,?,?)", (_digest(token), name, now_iso()))
    return token


def revoke_tokens(conn: Connection, name: str) -> int:
    """Revoke every API token and session of the user; returns how many tokens there were."""
    if get_user(conn, name) is None:
        raise KbError(f"no user {name!r}")
    with conn:
        conn.execute("DELETE FROM sessions WHERE name = ?", (name,))
        return conn.execute("DELETE FROM api_tokens WHERE name = ?", (name,)).rowcount


def user_for_token(conn: Connection, token: str) -> User | None:
    row = conn.execute("SELECT u.name, u.role, u.groups FROM api_tokens t JOIN users u "
                       "ON u.name = t.name WHERE t.digest = ?", (_digest(token),)).fetchone()
    return _row_user(row) if row else None


def start_session(conn: Connection, name: str, hours: int = SESSION_HOURS) -> str:
    """A new session id (put in a signed cookie); only its digest is stored."""
    session_id = secrets.token_urlsafe(32)
    expires = (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="seconds")
    with conn:
        conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now_iso(),))
        conn.execute("INSERT INTO sessions VALUES (?,?,?)", (_digest(session_id), name, expires))
    return session_id


def user_for_session(conn: Connection, session_id: str) -> User | None:
    row = conn.execute("SELECT u.name, u.role, u.groups FROM sessions s JOIN users u "
                       "ON u.name = s.name WHERE s.digest = ? AND s.expires_at >= ?",
                       (_digest(session_id), now_iso())).fetchone()
    return _row_user(row) if row else None


def end_session(conn: Connection, session_id: str) -> None:
    with conn:
        conn.execute("DELETE FROM sessions WHERE digest = ?", (_digest(session_id),))


def ensure_demo_users(conn: Connection, groups: frozenset[str] = frozenset(),
                      ) -> list[tuple[str, str, str]]:
    """Create the demo users that are missing; returns ``(name, role, password)`` of new ones."""
    created = []
    for name, role in DEMO_USERS:
        if get_user(conn, name) is None:
            password = generate_password()
            add_user(conn, name, role, groups if role != "agent" else frozenset(), password)
            created.append((name, role, password))
    return created


def load_secret(data_dir: Path, configured: str | None) -> str:
    """The key that signs cookies: KB_SECRET_KEY, else one generated once into the data dir.

    Several processes starting at once on one data dir (``kb serve --workers``, instances
    sharing it) end with the same key: each writes its candidate aside and links it into
    place, which only the first one does; every process then reads the key that won."""
    if configured:
        return configured
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(48).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # never replaces a key another process put there first
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def reader(user: User) -> Audience:
    """What the user may open (article pages, the review queue, the dashboard): admins every
    article, owners out-of-service ones too, within their groups. Answers are not this: they
    follow the asker's groups alone, for every role (``Audience(user.groups)``)."""
    return Audience(user.groups, all_groups=user.role == "admin",
                    out_of_service=user.role in ("owner", "admin"))
