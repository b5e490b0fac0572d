"""A throwaway PostgreSQL cluster for the tests: ``initdb`` + ``pg_ctl`` in a temp dir, on a
free loopback port, stopped (``pg_ctl stop -m immediate``) and removed at the end.

Postgres refuses to run as root: as root, the cluster belongs to ``nobody`` and its commands
run through ``runuser``. Durability is off (``fsync``, ``full_page_writes``): the cluster
lives for one test session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

#: where Debian puts the server binaries (not on PATH)
DEBIAN_BINS = "/usr/lib/postgresql/*/bin"
USER = "kb"
DATABASE = "kbtest"


def find_bin_dir() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl`` (newest Debian version first), or None."""
    candidates = sorted(glob.glob(DEBIAN_BINS), key=lambda p: int(Path(p).parent.name),
                        reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    return next((Path(c) for c in candidates if (Path(c) / "initdb").exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    bin_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str) -> None:
        as_nobody = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_nobody, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        data = self.root / "data"
        self._run(str(self.bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                  "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"),
                      "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(bin_dir: Path) -> Cluster:
    """A running cluster with an empty database ``kbtest``; call ``stop()`` when done."""
    as_root = os.geteuid() == 0
    # as root, a folder ``nobody`` can reach (TMPDIR may be private), with a short socket path
    root = Path(tempfile.mkdtemp(prefix="kb-pg-", dir="/tmp" if as_root else None))
    if as_root:
        shutil.chown(root, "nobody")
    cluster = Cluster(root, bin_dir, _free_port())
    try:
        cluster.start()
        import psycopg

        with psycopg.connect(cluster.url.rsplit("/", 1)[0] + "/postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def new_schema(base_url: str) -> str:
    """A new empty schema in the test database; the URL whose sessions use it (so each test
    gets a database of its own, as a new state.sqlite would be)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return url_of(base_url, name)


def clone_schema(base_url: str, source: str) -> str:
    """A copy of schema ``source`` (tables, keys, indexes, rows; identities continue after
    the rows copied): what copying a data dir does to its state.sqlite. Foreign keys are
    not copied."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn, conn.transaction():
        conn.execute(f"CREATE SCHEMA {name}")
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (source,))]
        for table in tables:
            conn.execute(f"CREATE TABLE {name}.{table} (LIKE {source}.{table} INCLUDING ALL)")
            conn.execute(f"INSERT INTO {name}.{table} SELECT * FROM {source}.{table}")
        for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND is_identity = 'YES'", (name,)).fetchall():
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{name}.{table}', "
                         f"'{column}'), coalesce(max({column}), 0) + 1, false) "
                         f"FROM {name}.{table}")
    return url_of(base_url, name)


def schema_of(url: str) -> str:
    return url.rsplit("%3D", 1)[1]


def url_of(base_url: str, schema: str) -> str:
    return f"{base_url}?options={quote(f'-csearch_path={schema}')}"
