"""Back up and restore a data dir: the live index, the state DB, the secret key, the
platform sources' mirrors (``sources/``, so the next ``kb sync`` stays incremental) and the
routing model (``routing/``).

A backup is itself a data dir (``LIVE``, ``indexes/<name>/``, ``state.sqlite``,
``secret_key``, ``sources/``, ``routing/``) plus ``BACKUP.json``, so
``kb ask --data-dir BACKUP`` works on it as is.
The databases are copied with SQLite's online backup, so a running server (or an ingest)
never yields a half-written copy; a copy whose catalog lists a chunk that its Chroma copy
lacks (an ingest committed between the two copies) is taken again. An index on a Chroma
server (``KB_CHROMA_URL``) is backed up without it: the backup holds ``vectors.npz``, and
the first command that needs the restored index's collection fills it from that file.

    info = backup(Path(".kb"), Path("/backups/kb-2026-11-25"))
    restore(Path("/backups/kb-2026-11-25"), Path(".kb"))
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from core.errors import KbError
from core.paths import IndexPaths, live_index, private_dir, read_pointer, state_db, write_pointer
from core.store import catalog
from core.store import state as state_store
from core.store.db import now_iso
from core.writer_lock import LOCK_FILE
from ingest import vectors

log = logging.getLogger(__name__)
MANIFEST = "BACKUP.json"
SECRET = "secret_key"
#: folders of the data dir that are copied as they are: platform sources' mirrors (so the next
#: sync stays incremental) and the routing model (``kb tickets train``)
COPIED_DIRS = ("sources", "routing")


def _copy_sources(src: Path, dst: Path) -> None:
    """The copied folders (files only; temporary files of a sync are skipped)."""
    for name in COPIED_DIRS:
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name, ignore=shutil.ignore_patterns(".*.tmp"))
ATTEMPTS = 3


def _sqlite_copy(src: Path, dst: Path) -> None:
    """SQLite's online backup into a new 0600 file."""
    os.close(os.open(dst, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    source = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(str(dst))
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _copy_index(live: IndexPaths, out: IndexPaths) -> None:
    private_dir(out.root)
    _sqlite_copy(live.catalog, out.catalog)
    if live.chroma.exists():  # after the catalog: holds at least the catalog's vectors
        shutil.copytree(live.chroma, out.chroma,
                        ignore=shutil.ignore_patterns("chroma.sqlite3*"))
        if (live.chroma / "chroma.sqlite3").exists():
            _sqlite_copy(live.chroma / "chroma.sqlite3", out.chroma / "chroma.sqlite3")
    if live.bm25.exists():  # derived files: rebuilt on open if they do not match
        shutil.copytree(live.bm25, out.bm25, dirs_exist_ok=True)
    for derived in (live.matrix, live.titles):
        if derived.exists():
            shutil.copy2(derived, out.root / derived.name)


def _missing_vectors(index: IndexPaths) -> int:
    """Chunks of the copied catalog without a copied vector. An index on a Chroma server
    (``chroma/server.json``) is backed up without the server: its vectors are those of
    ``vectors.npz``, which must then describe the catalog (BM25 ids and fingerprint too)."""
    conn = catalog.connect(index.catalog)
    try:
        wanted = catalog.chunk_ids(conn)
        if wanted and vectors.read_record(index.chroma) is not None:
            from ingest.run import search_files_current

            return 0 if search_files_current(conn, index.bm25) else len(wanted)
    finally:
        conn.close()
    if not wanted:
        return 0
    return len(wanted - vectors.all_ids(vectors.open_collection(index.chroma)))


def _has_content(folder: Path) -> bool:
    """Anything in ``folder`` but the writer lock (which ``kb restore`` itself holds there)."""
    return any(p.name != LOCK_FILE for p in folder.iterdir())


def _check_target(target: Path, force: bool, what: str) -> None:
    if target.exists() and not target.is_dir():
        raise KbError(f"{target}: not a folder")
    if target.exists() and _has_content(target) and not force:
        raise KbError(f"{target} is not empty: {what} into a new or empty folder "
                      "(or --force)")


def backup(data_dir: Path, dest: Path, database_url: str | None = None) -> dict[str, Any]:
    """Copy the live index, the state DB and the secret key of ``data_dir`` into ``dest``
    (new or empty); safe while a server runs. Returns the manifest written.

    A state DB in Postgres (``database_url``) is not copied: the manifest says where it is
    and how to dump it (:func:`postgres_note`); its operators back it up with ``pg_dump``
    or their own tools, at a version that matches the server."""
    live = live_index(data_dir, create=False)
    if not live.catalog.exists():
        raise KbError(f"no index in {data_dir}: nothing to back up")
    _check_target(dest, False, "back up")
    work = dest.with_name(f".{dest.name}.partial")
    for attempt in range(1, ATTEMPTS + 1):
        shutil.rmtree(work, ignore_errors=True)
        out = IndexPaths(private_dir(work / "indexes") / live.root.name)
        _copy_index(live, out)
        missing = _missing_vectors(out)
        if not missing:
            break
        log.info("backup attempt %d: %d chunks without vectors (an ingest ran); again",
                 attempt, missing)
    else:
        shutil.rmtree(work, ignore_errors=True)
        raise KbError(f"{data_dir}: the index kept changing during the backup (an ingest is "
                      "running?): try again when it has finished")
    if not database_url and state_db(data_dir).exists():
        _sqlite_copy(state_db(data_dir), state_db(work))
    if (data_dir / SECRET).exists():
        os.close(os.open(work / SECRET, os.O_CREAT | os.O_WRONLY, 0o600))
        shutil.copyfile(data_dir / SECRET, work / SECRET)
    _copy_sources(data_dir, work)
    write_pointer(work, "LIVE", live.root.name)
    manifest = _manifest(work, live.root.name, data_dir)
    if database_url:
        manifest["state_database"] = postgres_note(database_url)
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if dest.exists():
        dest.rmdir()  # empty, checked above
    work.rename(dest)
    return manifest


def postgres_note(url: str) -> dict[str, str]:
    """What a backup says of a state DB it did not copy: where it is, how to dump it."""
    from core.store.pg import masked

    return {"engine": "postgres", "url": masked(url),
            "backup": "pg_dump --format=custom --file=kb-state.dump \"$KB_DATABASE_URL\"",
            "restore": "pg_restore --clean --if-exists --no-owner "
                       "--dbname=\"$KB_DATABASE_URL\" kb-state.dump && kb db upgrade"}


def _manifest(folder: Path, index_name: str, source: Path) -> dict[str, Any]:
    conn = catalog.connect(folder / "indexes" / index_name / "catalog.sqlite")
    try:
        counts = catalog.counts(conn)
        fingerprint = catalog.get_kv(conn, "fingerprint")
    finally:
        conn.close()
    return {"created": now_iso(), "source": str(source.resolve()), "index": index_name,
            "fingerprint": fingerprint, **counts,
            "state": state_db(folder).exists(), "secret_key": (folder / SECRET).exists()}


def restore(src: Path, data_dir: Path, force: bool = False) -> dict[str, Any]:
    """Make ``data_dir`` a copy of the backup ``src``. A non-empty ``data_dir`` is refused
    unless ``force``; then its old content is kept beside it (``DIR.replaced-TIME``)."""
    manifest_path = src / MANIFEST
    if not manifest_path.is_file():
        raise KbError(f"{src}: not a kb backup (no {MANIFEST}); make one with kb backup DEST")
    manifest = json.loads(manifest_path.read_text())
    _check_target(data_dir, force, "restore")
    work = data_dir.with_name(f".{data_dir.name}.restoring")
    shutil.rmtree(work, ignore_errors=True)
    private_dir(work)
    name = read_pointer(src, "LIVE") or manifest["index"]
    out = IndexPaths(private_dir(work / "indexes") / name)
    _copy_index(IndexPaths(src / "indexes" / name), out)
    catalog.connect(out.catalog).close()  # opening checks it: corruption is one clear line
    vectors.disown(out.chroma)  # on a server: its own collection, filled from vectors.npz
    if state_db(src).exists():
        _sqlite_copy(state_db(src), state_db(work))
        state_store.connect(state_db(work)).close()
    if (src / SECRET).exists():
        os.close(os.open(work / SECRET, os.O_CREAT | os.O_WRONLY, 0o600))
        shutil.copyfile(src / SECRET, work / SECRET)
    _copy_sources(src, work)
    write_pointer(work, "LIVE", name)
    replaced = None
    if data_dir.exists():
        if _has_content(data_dir):
            replaced = data_dir.with_name(f"{data_dir.name}.replaced-"
                                          f"{now_iso().replace(':', '')}")
            data_dir.rename(replaced)
        else:
            shutil.rmtree(data_dir)  # empty but for the writer lock
    work.rename(data_dir)
    return {**manifest, "restored_to": str(data_dir),
            "replaced": str(replaced) if replaced else None}
