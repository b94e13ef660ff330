"""Read access to an index directory that stays current while writers add and delete.

The reader maps the FAISS snapshot (shared page-cache pages, never modified) and keeps the vectors
added since in memory (:class:`~thaigov_search.store.vectors.LiveVectors`); it hands the BM25
postings snapshot of the same generation to the lexical engine (:meth:`IndexReader.lexical_snapshot`).
Before each query it compares its generation
with the database's; when writers have committed since, it replays exactly the passages added
and removed in between (or reloads everything if the index was rebuilt from scratch), under a
lock, so a query always sees whole articles: an article's passages, vectors and lexical row
arrive in one transaction.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from thaigov_search.core.article import Article
from thaigov_search.core.files import sha256_file
from thaigov_search.store.manifest import Manifest, ensure_current_format
from thaigov_search.store.postings import Postings, open_postings
from thaigov_search.store.schema import (
    DB_NAME,
    IndexCorruptError,
    blobs_to_matrix,
    check_database,
    check_database_size,
    connect,
    current_generation,
    unpack_text,
)
from thaigov_search.store.suggestions import PhraseTable, open_suggestions
from thaigov_search.store.vectors import (
    HNSW_EF_SEARCH,
    LiveVectors,
    build_vector_index,
    new_vector_index,
    read_snapshot,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DenseHit:
    pid: int
    score: float


class IndexReader:
    """In-memory vectors + a SQLite connection per thread, refreshed on demand."""

    def __init__(self, index_dir: Path, verify: bool | str = True):
        """``verify``: True checks every page of the database and the snapshots' sha256 at open;
        "later" only what costs milliseconds (sizes, headers), leaving :meth:`verify_files` to the
        caller (the service runs it in the background, so it answers within seconds of starting)."""
        self.index_dir = Path(index_dir)
        self.db_path = self.index_dir / DB_NAME
        self._lock = threading.RLock()
        self._local = threading.local()
        self._verify = verify
        self._suggestions: tuple[str | None, PhraseTable | None] | None = None  # (file name, its mapped phrases)
        self._load()

    # --------------------------------------------------------------------------- loading
    def _load(self) -> None:
        manifest = Manifest.read(self.index_dir)
        ensure_current_format(manifest, self.index_dir)
        if not self.db_path.exists():
            raise IndexCorruptError(f"{self.db_path} is missing. Rebuild the index with `thaigov-search index`.")
        if self.db_path.stat().st_size < 100:  # before SQLite opens it: a WAL switch would write a new header
            raise IndexCorruptError(f"{self.db_path} is damaged (no SQLite header). Rebuild the index with `thaigov-search index`.")
        self._db_identity = db_identity(self.db_path)
        self._local = threading.local()
        try:  # a truncated/garbled file fails already in connect()'s PRAGMAs
            conn = self.connection()
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"{self.db_path} is damaged ({exc}). Rebuild the index with `thaigov-search index`.") from exc
        if self._verify is True:
            check_database(conn, self.db_path)
        elif self._verify:
            check_database_size(conn, self.db_path)
        self.manifest = manifest
        self.dimension = manifest.dimension
        conn.execute("BEGIN")
        try:
            db_gen = current_generation(conn)
            index, base_gen = self._load_snapshot(manifest, conn, db_gen)
            self.index = LiveVectors(index, self.dimension)
            self.generation = base_gen
            self._apply_delta(conn, base_gen)
            self.generation = db_gen
        finally:
            conn.execute("COMMIT")
        self.refreshed_at = time.time()  # reported by /metrics
        logger.info("loaded index %s: generation %d, %d vectors", self.index_dir, self.generation, self.index.ntotal)

    def _load_snapshot(self, manifest: Manifest, conn: sqlite3.Connection, db_gen: int) -> tuple[faiss.Index, int]:
        if manifest.snapshot is None:
            if db_gen:
                return build_vector_index(conn, manifest.dimension, "flat"), db_gen
            return new_vector_index(manifest.dimension, "flat"), 0
        path = self.index_dir / manifest.snapshot
        if not path.exists():
            raise IndexCorruptError(f"{path} is missing. Rebuild the index with `thaigov-search index`.")
        if self._verify is True and manifest.snapshot_sha256 and sha256_file(path) != manifest.snapshot_sha256:
            raise IndexCorruptError(
                f"{path} is damaged (checksum mismatch). Rebuild the index with `thaigov-search index`."
            )
        try:
            index = read_snapshot(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} cannot be read ({exc}). Rebuild the index.") from exc
        if index.d != manifest.dimension:
            raise IndexCorruptError(f"{path} has dimension {index.d}, the manifest says {manifest.dimension}.")
        return index, manifest.snapshot_generation

    def _apply_delta(self, conn: sqlite3.Connection, since: int) -> None:
        """Replay passages added and removed after generation ``since`` (inside a read transaction)."""
        removed = np.array(
            [r[0] for r in conn.execute("SELECT pid FROM tombstones WHERE gen > ?", (since,))], dtype=np.int64
        )
        if removed.size:
            self.index.remove(removed)
        rows = conn.execute(
            "SELECT pid, vector FROM passages WHERE gen > ? AND vector IS NOT NULL ORDER BY pid", (since,)
        ).fetchall()
        if rows:
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            self.index.add(blobs_to_matrix([r[1] for r in rows], self.dimension), ids)

    @property
    def identity(self) -> tuple[int, int]:
        """(device, inode) of the database file as loaded: changes when the index is rebuilt from scratch."""
        return self._db_identity

    def new_connection(self) -> sqlite3.Connection:
        """A connection of the caller's own (for work in another thread, e.g. a background rebuild)."""
        return connect(self.db_path)

    @property
    def is_hnsw(self) -> bool:
        return self.index.is_hnsw

    def verify_files(self) -> None:
        """Every check a full open makes (``quick_check`` of every page, the snapshots' sha256);
        raises IndexCorruptError naming the file."""
        conn = connect(self.db_path)
        try:
            check_database(conn, self.db_path)
        finally:
            conn.close()
        manifest = self.manifest
        for name, digest in manifest.snapshot_files():
            if digest and (self.index_dir / name).exists() and sha256_file(self.index_dir / name) != digest:
                raise IndexCorruptError(f"{self.index_dir / name} is damaged (checksum mismatch). "
                                        "Rebuild the index with `thaigov-search index`.")

    def lexical_snapshot_generation(self) -> int | None:
        """The generation of the BM25 snapshot the current manifest names (None: it names none)."""
        manifest = self.manifest
        return manifest.snapshot_generation if manifest.lexical else None

    def lexical_snapshot(self) -> tuple[Postings, int] | None:
        """The BM25 postings the manifest names, mapped, with their generation; None for an index
        written before they existed (the engine then counts the terms from the database)."""
        manifest = self.manifest
        path = self._snapshot_file(manifest.lexical, manifest.lexical_sha256)
        return (open_postings(path), manifest.snapshot_generation) if path else None

    def suggestions_snapshot(self) -> PhraseTable | None:
        """The suggestion phrases that the newest manifest on disk names, mapped (the same object until
        a newer snapshot names another file); None for an index written before they existed."""
        manifest = Manifest.read(self.index_dir)
        cached = self._suggestions
        if cached is not None and cached[0] == manifest.suggestions:
            return cached[1]
        path = self._snapshot_file(manifest.suggestions, manifest.suggestions_sha256)
        table = open_suggestions(path) if path else None
        self._suggestions = (manifest.suggestions, table)
        return table

    def _snapshot_file(self, name: str | None, digest: str | None) -> Path | None:
        """The path of a snapshot file the manifest names (checked as this reader was told); None if it names none."""
        if not name:
            return None
        path = self.index_dir / name
        if not path.exists():
            raise IndexCorruptError(f"{path} is missing. Rebuild the index with `thaigov-search index`.")
        if self._verify is True and digest and sha256_file(path) != digest:
            raise IndexCorruptError(f"{path} is damaged (checksum mismatch). Rebuild the index with `thaigov-search index`.")
        return path

    def refresh(self) -> bool:
        """Catch up with committed writes; returns True when something changed."""
        if db_identity(self.db_path) != self._db_identity:
            with self._lock:
                logger.info("index %s was rebuilt; reloading", self.index_dir)
                self._load()
            return True
        conn = self.connection()
        if current_generation(conn) == self.generation:
            return False
        with self._lock:
            conn.execute("BEGIN")
            try:
                gen = current_generation(conn)
                if gen != self.generation:
                    self._apply_delta(conn, self.generation)
                    self.generation = gen
                    self.refreshed_at = time.time()
            finally:
                conn.execute("COMMIT")
            try:
                self.manifest = Manifest.read(self.index_dir)
            except IndexCorruptError:
                logger.exception("manifest unreadable during refresh; keeping the previous one")
        return True

    # --------------------------------------------------------------------------- queries
    def connection(self) -> sqlite3.Connection:
        """One SQLite connection per thread (connections are not shared across threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.db_path)
            self._local.conn = conn
        return conn

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every SELECT inside sees one committed generation."""
        conn = self.connection()
        if conn.in_transaction:  # nested use joins the outer snapshot
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def dense_search(self, vector: np.ndarray, k: int, allowed_pids: Sequence[int] | None = None) -> list[DenseHit]:
        """Top passages by inner product, optionally restricted to some passage ids."""
        if allowed_pids is not None and len(allowed_pids) == 0:
            return []
        allowed = np.asarray(allowed_pids, dtype=np.int64) if allowed_pids is not None else None
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        with self._lock:
            if self.index.ntotal == 0:
                return []
            # One query per call: one exact search over 91,686 vectors took 6.9 ms on one OpenMP
            # thread and 13.7 ms on two, which also spin on the other core (docs/performance.md).
            # OpenMP keeps this setting per thread, so it is made here, in the thread that searches.
            faiss.omp_set_num_threads(1)
            found = self.index.search(query, k, allowed, HNSW_EF_SEARCH)
        return [DenseHit(p, s) for p, s in found]

    def vectors_of(self, pids: Sequence[int]) -> np.ndarray:
        """Stored vectors of passages (for related-article search and reranking)."""
        with self.snapshot() as conn:
            marks = ",".join("?" * len(pids))
            rows = conn.execute(f"SELECT vector FROM passages WHERE pid IN ({marks}) AND vector IS NOT NULL", list(pids)).fetchall()
        return blobs_to_matrix([r[0] for r in rows], self.dimension)

    def get_article(self, doc_id: str) -> Article | None:
        row = self.connection().execute(
            "SELECT id, title, body, date, category, url, language FROM articles WHERE id = ?", (doc_id,)).fetchone()
        return Article(row[0], row[1], unpack_text(row[2]), *row[3:]) if row else None


def db_identity(path: Path) -> tuple[int, int]:
    """(device, inode) of the database file: changes when the index is rebuilt from scratch."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"{path} is missing. Rebuild the index with `thaigov-search index`.") from exc
    return st.st_dev, st.st_ino
