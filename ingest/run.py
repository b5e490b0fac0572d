"""Ingest a folder into an index: incremental, resumable, and safe to kill at any point.

Order of writes for each batch of changed articles: vectors into Chroma first, then the
catalog (one transaction), then removal of the chunks the new versions no longer have. The
catalog is the source of truth, so a crash between steps leaves extra vectors that nothing
refers to; the next run deletes them before doing anything else. Changed files are read and
chunked in a worker process (``ingest/read_worker.py``) while this one embeds, and taken back
in file order, so every write happens here, in the same order as a serial run. BM25,
``vectors.npz`` and the catalog's fingerprint are rebuilt whenever they do not describe the
catalog's chunks, so a run killed after a catalog commit is repaired by the next one even
when no file changed (``make kill-loop`` kills ``kb ingest`` at random points and at each
phase to check it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sqlite3
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from core.errors import ArticleError, KbError
from core.paths import IndexPaths
from core.store import catalog
from core.store.db import now_iso
from core.types import Article, Chunk, LoadFailure
from ingest import lexical, matrix, title_vectors, vectors
from ingest.chunk import chunk_article
from ingest.embed import Embedder
from ingest.load import LOADER_VERSION, is_article_file, load_article, sidecar_path
from ingest.read_worker import ReadAhead
from ingest.time_budget import OverBudget, time_budget

log = logging.getLogger(__name__)
BATCH_CHUNKS = 256

#: one folder an index is built from: (key prefix, folder). A plain ``kb ingest`` has one root
#: with prefix ""; ``kb sync`` adds each platform source's mirror with prefix ``NAME:``, so an
#: article's catalog path is ``prefix + its path in the folder``.
Root = tuple[str, Path]


@dataclass
class IngestReport:
    articles: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded_chunks: int = 0
    failed: list[LoadFailure] = field(default_factory=list)
    seconds: float = 0.0
    changed_ids: list[str] = field(default_factory=list)
    #: per root prefix ("" = folders): added / updated / unchanged / removed / failed
    by_prefix: dict[str, Counter[str]] = field(default_factory=dict)

    def tally(self, key: str, what: str, roots: list[Root]) -> None:
        prefix = next((p for p, _ in sorted(roots, key=lambda r: -len(r[0]))
                       if key.startswith(p)), "")
        self.by_prefix.setdefault(prefix, Counter())[what] += 1

    def as_json(self) -> dict[str, Any]:
        return {"articles": self.articles, "chunks": self.chunks, "added": self.added,
                "updated": self.updated, "unchanged": self.unchanged, "removed": self.removed,
                "embedded_chunks": self.embedded_chunks,
                "failed": [{"path": f.path, "error": f.error} for f in self.failed],
                "seconds": round(self.seconds, 2)}


@dataclass(frozen=True)
class IngestOptions:
    chunk_tokens: int = 180
    max_file_bytes: int = 20_000_000
    aliases: dict[str, list[str]] = field(default_factory=dict)
    progress: bool = False
    allow_empty: bool = False
    #: seconds one file may take to read and chunk (0: no limit); KB_FILE_TIMEOUT_S
    file_timeout_s: float = 60.0
    #: memory the read worker may add to its size at start (0: no cap); KB_READ_MEMORY_MB
    read_memory_mb: int = 4096


def _test_kill_point(phase: str) -> None:
    """Test hook (tests/ingest/test_kill_loop.py): KB_TEST_KILL_AT=PHASE kills the process."""
    if os.environ.get("KB_TEST_KILL_AT") == phase:
        os.kill(os.getpid(), signal.SIGKILL)


def discover(root: Path, outside: list[LoadFailure] | None = None) -> Iterator[Path]:
    """Article files under root, sorted, skipping hidden folders and kb's own data dirs.

    Folder links are never followed (as before: no loops, no leaving the folder); a link
    whose target is outside ``root`` (file or folder) is added to ``outside`` as a failure,
    so a ``.md`` link to /etc/passwd is neither indexed nor answered from.
    """
    real_root = root.resolve()
    found: list[Path] = []
    pending = [root]
    while pending:
        for entry in pending.pop().iterdir():
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                target = entry.resolve()
                if not target.is_relative_to(real_root):
                    if outside is not None and (target.is_dir() or is_article_file(entry)):
                        outside.append(LoadFailure(entry.relative_to(root).as_posix(),
                                                   "is a link outside the KB folder"))
                    continue
                if entry.is_dir():
                    continue
            if entry.is_dir():
                pending.append(entry)
            elif entry.is_file() and is_article_file(entry):
                found.append(entry)
    yield from sorted(found)


def file_hash(path: Path) -> str:
    """The same hash ``load_article`` records, without parsing: detects unchanged files fast."""
    side = sidecar_path(path)
    side_bytes = side.read_bytes() if side.exists() else b""
    return hashlib.sha256(LOADER_VERSION.encode() + path.read_bytes() + b"\0"
                          + side_bytes).hexdigest()


def remove_orphans(conn: sqlite3.Connection, collection: Any) -> int:
    """Delete vectors that the catalog does not list (left by a run that was killed)."""
    orphans = vectors.all_ids(collection) - catalog.chunk_ids(conn)
    vectors.delete(collection, sorted(orphans))
    return len(orphans)


def _flush(batch: list[tuple[Article, list[Chunk]]], conn: sqlite3.Connection,
           collection: Any, embedder: Embedder) -> int:
    wanted = [(a, c) for a, chunks in batch for c in chunks]
    reuse = vectors.existing_embeddings(collection, {c.id: c.embed_text for _, c in wanted})
    todo = [c for _, c in wanted if c.id not in reuse]
    fresh = dict(zip([c.id for c in todo], embedder.embed([c.embed_text for c in todo]),
                     strict=True))
    vectors.upsert(collection, [(a, c, reuse.get(c.id) or fresh[c.id]) for a, c in wanted])
    stale: set[str] = set()
    with catalog.transaction(conn):
        for article, chunks in batch:
            stale |= catalog.chunk_ids(conn, article.id) - {c.id for c in chunks}
            catalog.save_article(conn, article, chunks)
    vectors.delete(collection, sorted(stale))
    return len(todo)


def rebuild_lexical(conn: sqlite3.Connection, out_dir: Path) -> str:
    """Rebuild BM25 over every chunk; returns the index fingerprint (a hash of the chunk ids)."""
    docs = catalog.lexical_documents(conn)
    ids = [d[0] for d in docs]
    fingerprint = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    texts = [f"{title}\n{' '.join(section)}\n{text}" for _, title, section, text in docs]
    lexical.build(ids, texts, out_dir, fingerprint)
    return fingerprint


def source_file(roots: list[Root], key: str) -> Path | None:
    """The file a catalog path was read from (the longest matching prefix), if it is known."""
    for prefix, folder in sorted(roots, key=lambda r: -len(r[0])):
        if key.startswith(prefix):
            return folder / key[len(prefix):]
    return None


def stored_roots(conn: sqlite3.Connection) -> list[Root]:
    """The roots the last ingest read (older catalogs: the one ``source`` folder)."""
    raw = catalog.get_kv(conn, "roots")
    if raw:
        return [(prefix, Path(folder)) for prefix, folder in json.loads(raw)]
    source = catalog.get_kv(conn, "source")
    return [("", Path(source))] if source else []


@dataclass
class _Scan:
    """What one pass over the folders found: changed articles to write, paths seen, ids."""

    roots: list[Root]
    known: dict[str, tuple[str, str]]  # path -> (article id, content hash) in the catalog
    seen: set[str] = field(default_factory=set)
    ids_taken: dict[str, str] = field(default_factory=dict)  # article id -> path
    current: dict[str, str] = field(default_factory=dict)  # path -> its article id now


def _links_out(path: Path, root: Path) -> bool:
    return path.is_symlink() and not path.resolve().is_relative_to(root.resolve())


def check_can_ingest(root: Path, conn: sqlite3.Connection, embedder: Embedder) -> None:
    if not root.is_dir():
        raise KbError(f"{root}: not a folder")
    model = catalog.get_kv(conn, "model")
    if model and model != embedder.name:
        raise KbError(f"this index was built with the model {model!r}, not {embedder.name!r}: "
                      "ingest into a new --data-dir")


@dataclass(frozen=True)
class ReadJob:
    """One new or changed file to read: its root's key prefix, the root, the file, and its
    catalog path."""

    prefix: str
    root: Path
    path: Path
    rel: str


@dataclass(frozen=True)
class ReadFailed:
    """A file that could not be read: its reported failure, and a traceback for the log."""

    failure: LoadFailure
    detail: str = ""


Read = tuple[Article, list[Chunk]] | ReadFailed


def _failure(rel: str, prefix: str, exc: BaseException, timeout_s: float) -> LoadFailure:
    if isinstance(exc, OverBudget):
        return LoadFailure(rel, f"took over {timeout_s:g} s to read (KB_FILE_TIMEOUT_S); "
                                "not indexed")
    if isinstance(exc, ArticleError):
        return LoadFailure(prefix + exc.path if not exc.path.startswith(prefix) else exc.path,
                           exc.reason)
    if isinstance(exc, OSError):
        return LoadFailure(rel, f"cannot be read ({exc.strerror})")
    return LoadFailure(rel, f"could not be read: {type(exc).__name__}: {exc}")


def read_file(job: ReadJob, options: IngestOptions) -> Read:
    """Read and chunk one file within its time budget; any failure is the file's (runs in
    the read worker: it returns what happened and writes nothing)."""
    try:
        with time_budget(options.file_timeout_s):
            article = load_article(job.path, job.root, options.max_file_bytes, options.aliases)
            if job.prefix:
                article = replace(article, path=job.rel)
            chunks = chunk_article(article, options.chunk_tokens)
    except (OverBudget, Exception) as exc:  # noqa: BLE001 - one bad file never aborts the run
        expected = isinstance(exc, OverBudget | ArticleError | OSError)
        return ReadFailed(_failure(job.rel, job.prefix, exc, options.file_timeout_s),
                          "" if expected else "".join(traceback.format_exception(exc)))
    return article, chunks


def _crashed(job: ReadJob) -> Read:
    return ReadFailed(LoadFailure(job.rel, "crashed the reader process; not indexed"))


def to_read(found: tuple[str, Path, Path], scan: _Scan, report: IngestReport) -> ReadJob | None:
    """The file ``(prefix, root, path)`` as a job to read when it is new or changed; None when
    unchanged or failed already (the failure is added to ``report``). Hashing is cheap: the
    expensive reading is the worker's."""
    prefix, root, path = found
    rel = prefix + path.relative_to(root).as_posix()
    scan.seen.add(rel)
    try:
        if _links_out(sidecar_path(path), root):
            report.failed.append(LoadFailure(rel, "its sidecar is a link outside the KB folder"))
            return None
        if rel in scan.known and scan.known[rel][1] == file_hash(path):
            report.unchanged += 1
            report.tally(rel, "unchanged", scan.roots)
            return None
    except OSError as exc:
        report.failed.append(_failure(rel, prefix, exc, 0))
        return None
    return ReadJob(prefix, root, path, rel)


def accept(job: ReadJob, read: Read, scan: _Scan,
           report: IngestReport) -> tuple[Article, list[Chunk]] | None:
    """A read file's article and chunks, to store; None when it failed or cannot be stored
    (the reason is added to ``report``). Called in file order."""
    rel = job.rel
    if isinstance(read, ReadFailed):
        if read.detail:
            log.debug("loading %s failed:\n%s", rel, read.detail)
        report.failed.append(read.failure)
        return None
    article, chunks = read
    owner_path = scan.ids_taken.get(article.id)
    if owner_path is not None and owner_path != rel:
        report.failed.append(LoadFailure(rel, f"id {article.id!r} is already used by "
                                              f"{owner_path}"))
        return None
    scan.ids_taken[article.id] = rel
    if not chunks:
        report.failed.append(LoadFailure(rel, "has no text to index"))
        return None
    if rel in scan.known:
        report.updated += 1
    else:
        report.added += 1
    report.tally(rel, "updated" if rel in scan.known else "added", scan.roots)
    report.changed_ids.append(article.id)
    scan.current[rel] = article.id
    return article, chunks


@dataclass
class _Batches:
    """Changed articles waiting to be embedded and stored, written once enough chunks wait."""

    conn: sqlite3.Connection
    collection: Any
    embedder: Embedder
    report: IngestReport
    batch: list[tuple[Article, list[Chunk]]] = field(default_factory=list)
    pending: int = 0

    def add(self, changed: tuple[Article, list[Chunk]]) -> bool:
        """Queue one article; True when that wrote a batch."""
        self.batch.append(changed)
        self.pending += len(changed[1])
        if self.pending < BATCH_CHUNKS:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        if self.batch:
            self.report.embedded_chunks += _flush(self.batch, self.conn, self.collection,
                                                  self.embedder)
            self.batch, self.pending = [], 0


def write_changed(files: list[tuple[str, Path, Path]], scan: _Scan, conn: sqlite3.Connection,
                  collection: Any, embedder: Embedder, options: IngestOptions, report: IngestReport,
                  on_progress: Callable[[int, int], None] | None) -> None:
    """Read every changed file (in a worker process, ahead), embedding and storing changed
    articles in batches, in file order."""
    batches = _Batches(conn, collection, embedder, report)
    with ReadAhead(partial(read_file, options=options), _crashed,
                   memory_mb=options.read_memory_mb) as reader:
        for number, found in enumerate(files, start=1):
            if on_progress:
                on_progress(number - 1 - len(reader), len(files))
            job = to_read(found, scan, report)
            if job is not None:
                reader.submit(job)
            while reader.full() or (number == len(files) and len(reader)):
                changed = accept(*reader.next(), scan, report)
                if changed and batches.add(changed) and on_progress and len(reader):
                    on_progress(number - len(reader), len(files))
    batches.flush()
    if on_progress:
        on_progress(len(files), len(files))  # once, when everything is stored


def remove_gone(scan: _Scan, conn: sqlite3.Connection, collection: Any,
                report: IngestReport) -> None:
    """Drop articles whose file was deleted, or whose file now declares another id."""
    for article_id, path in catalog.article_paths(conn).items():
        gone = path not in scan.seen
        if not gone and scan.current.get(path, article_id) == article_id:
            continue
        doomed = catalog.chunk_ids(conn, article_id)
        with catalog.transaction(conn):
            catalog.delete_article(conn, article_id)
        vectors.delete(collection, sorted(doomed))
        report.removed += gone
        if gone:
            report.tally(path, "removed", scan.roots)
        report.changed_ids.append(article_id)


def search_files_current(conn: sqlite3.Connection, bm25_dir: Path) -> bool:
    """Do BM25, ``vectors.npz`` and the catalog's fingerprint all describe the catalog's
    chunks? False after a run killed between the catalog commit and the end of the rebuild."""
    try:
        meta = json.loads((bm25_dir / "ids.json").read_text())
    except (OSError, ValueError):
        return False
    ids, fingerprint = list(meta.get("ids", [])), meta.get("fingerprint")
    return (fingerprint == catalog.get_kv(conn, "fingerprint")
            and fingerprint == hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
            and fingerprint == matrix.stored_fingerprint(bm25_dir.parent / "vectors.npz")
            and set(ids) == catalog.chunk_ids(conn))


def rebuild_search_files(conn: sqlite3.Connection, collection: Any, bm25_dir: Path,
                         changed: bool) -> None:
    """BM25, the dense matrix and the fingerprint, when anything changed or they do not
    match the catalog (missing, or left stale by a killed run)."""
    if changed or not search_files_current(conn, bm25_dir):
        fingerprint = rebuild_lexical(conn, bm25_dir)
        _test_kill_point("after-bm25")
        ids = lexical.load_ids(bm25_dir)
        matrix.rebuild(collection, ids, bm25_dir.parent / "vectors.npz", fingerprint)
        _test_kill_point("after-vectors")
        with catalog.transaction(conn):
            catalog.set_kv(conn, "fingerprint", fingerprint)


def ingest_folder(root: Path, conn: sqlite3.Connection, collection: Any, embedder: Embedder,
                  bm25_dir: Path, options: IngestOptions,
                  on_progress: Callable[[int, int], None] | None = None) -> IngestReport:
    """Bring the index in line with the folder; returns what changed and what failed."""
    return ingest_roots([("", root)], conn, collection, embedder, bm25_dir, options, on_progress)


def _files_of(roots: list[Root], report: IngestReport) -> list[tuple[str, Path, Path]]:
    """Every article file of every root; a second file with the same catalog path (two
    folders both holding ``vpn.md``) is reported, not read."""
    files: list[tuple[str, Path, Path]] = []
    keys: dict[str, Path] = {}
    for prefix, root in roots:
        for path in discover(root, report.failed):
            key = prefix + path.relative_to(root).as_posix()
            if key in keys:
                report.failed.append(LoadFailure(key, f"also in {keys[key].parent}: the first "
                                                      f"({keys[key]}) is indexed"))
                continue
            keys[key] = root
            files.append((prefix, root, path))
    return files


def ingest_roots(roots: list[Root], conn: sqlite3.Connection, collection: Any,
                 embedder: Embedder, bm25_dir: Path, options: IngestOptions,
                 on_progress: Callable[[int, int], None] | None = None) -> IngestReport:
    """Bring the index in line with the folders (together they are the KB: an article in
    none of them is removed); returns what changed and what failed."""
    started = time.monotonic()
    for _, root in roots:
        check_can_ingest(root, conn, embedder)
    report = IngestReport()
    orphans = remove_orphans(conn, collection)
    if orphans:
        log.info("removed %d vectors left by an interrupted run", orphans)
    scan = _Scan(roots, catalog.article_hashes(conn))
    scan.ids_taken = {aid: p for p, (aid, _) in scan.known.items()}
    scan.current = {p: aid for p, (aid, _) in scan.known.items()}
    files = _files_of(roots, report)
    if not files and scan.known and not options.allow_empty:
        where = ", ".join(str(root) for _, root in roots)
        raise KbError(f"{where}: no article files found; refusing to remove all "
                      f"{len(scan.known)} indexed articles (is this the right folder? "
                      "--allow-empty to do it)")
    write_changed(files, scan, conn, collection, embedder, options, report, on_progress)
    _test_kill_point("after-catalog")
    remove_gone(scan, conn, collection, report)
    rebuild_search_files(conn, collection, bm25_dir,
                         bool(report.added or report.updated or report.removed))
    title_vectors.refresh(IndexPaths(bm25_dir.parent).titles,
                          [a.title for a in catalog.article_facts(conn)], embedder)
    with catalog.transaction(conn):
        catalog.set_kv(conn, "model", embedder.name)
        catalog.set_kv(conn, "last_ingest", now_iso())
        if roots:
            catalog.set_kv(conn, "source", str(roots[0][1].resolve()))
        catalog.set_kv(conn, "roots", json.dumps([[prefix, str(root.resolve())]
                                                  for prefix, root in roots]))
    totals = catalog.counts(conn)
    report.articles, report.chunks = totals["articles"], totals["chunks"]
    report.seconds = time.monotonic() - started
    return report


def terminal_progress(label: str, unit: str = "files", every_s: float = 10.0,
                      clock: Callable[[], float] = time.monotonic,
                      stream: TextIO | None = None) -> Callable[[int, int], None]:
    """Progress on stderr, for ``on_progress(done, total)``: a tqdm bar on a terminal; else
    (a log, ``make run``) a plain line once ``every_s`` seconds have passed since the start or
    the last line, and one at the end: ``ingest: 120/811 files (15%), 42 s``. A run shorter
    than ``every_s`` prints nothing. Lines come from calls, so a step that takes longer than
    ``every_s`` (one embedding batch) delays the next one.
    """
    out = stream or sys.stderr
    if out.isatty():
        return _progress_bar(label, unit, out)
    started = clock()
    last_line = started

    def update(done: int, total: int) -> None:
        nonlocal last_line
        now = clock()
        if now - last_line >= every_s or (done == total and now - started >= every_s):
            percent = 100 * done // total if total else 100
            print(f"{label}: {done}/{total} {unit} ({percent}%), {now - started:.0f} s",
                  file=out, flush=True)
            last_line = now

    return update


def _progress_bar(label: str, unit: str, out: TextIO) -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=label, unit=f" {unit}", file=out)
        bar["bar"].n = done
        bar["bar"].refresh()
        if done == total:
            bar["bar"].close()

    return update
