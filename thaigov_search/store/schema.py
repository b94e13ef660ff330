"""The index database: its schema and file name, connections, integrity checks, errors, row types.

Layout of an index directory::

    manifest.json          format version, model, dimension, counts, current vector snapshot
    index.sqlite           articles, passages (with their vectors), title vectors, FTS5 lexical index, tombstones
    vectors-<gen>.faiss    FAISS snapshot of passage vectors as of SQLite generation <gen>
    bm25-<gen>.bin         BM25 postings as of the same generation (store/postings.py)
    suggest-<gen>.bin      search-suggestion phrases of the same generation's titles (store/suggestions.py)
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from thaigov_search.store.duplicates import SCHEMA as DUPLICATES_SCHEMA
from thaigov_search.store.twins import SCHEMA as TWINS_SCHEMA

# 2: text stored once and compressed (issue #13): bodies zlib-compressed, a passage is a span of its
# article's body (its own text only when it is not one), the FTS5 table contentless with the terms
# compressed beside it; 3.1 GB -> about 1.4 GB at the full corpus (docs/performance.md).
FORMAT_VERSION = 2
DB_NAME = "index.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    date TEXT,
    category TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'th',
    body BLOB NOT NULL,
    content_hash TEXT NOT NULL,
    gen INTEGER NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_date ON articles(date);
CREATE INDEX IF NOT EXISTS articles_category ON articles(category);
CREATE TABLE IF NOT EXISTS passages (
    pid INTEGER PRIMARY KEY AUTOINCREMENT,
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT,
    char_start INTEGER,
    char_end INTEGER,
    n_tokens INTEGER NOT NULL,
    vector BLOB,
    gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_rowid);
CREATE INDEX IF NOT EXISTS passages_gen ON passages(gen);
CREATE TABLE IF NOT EXISTS tombstones (pid INTEGER PRIMARY KEY, gen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_gen ON tombstones(gen);
CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5(title, body, tokenize = 'ascii', content = '');
CREATE TABLE IF NOT EXISTS lexical_terms (rowid INTEGER PRIMARY KEY, terms BLOB NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS lexical_vocab USING fts5vocab(lexical, 'row');
CREATE TABLE IF NOT EXISTS title_vectors (
    article_rowid INTEGER PRIMARY KEY REFERENCES articles(rowid) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
""" + DUPLICATES_SCHEMA + TWINS_SCHEMA
"""Tables added later come with ``IF NOT EXISTS`` (the near-duplicate tables of issue #14, the twins and the
headline vectors (``title_vectors``: each article's title embedded on its own) of issue #11: an index
built before them stays at FORMAT_VERSION 1, gains them when a writer opens it, and readers treat
their absence as "no duplicates known")."""


class IndexError_(Exception):
    """Base class for index problems a user can act on."""


class IndexNotFoundError(IndexError_):
    """The directory holds no index."""


class IndexCorruptError(IndexError_):
    """A file of the index is damaged or missing."""


class ModelMismatchError(IndexError_):
    """The index was built with another embedding model."""


def connect(db_path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection tuned for one writer and many readers (WAL, busy timeout)."""
    if readonly:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
    else:
        conn = sqlite3.connect(db_path, timeout=60, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as exc:  # a truncated or garbled file fails here already
        conn.close()
        if isinstance(exc, sqlite3.OperationalError) and str(exc) in ("disk I/O error", "database or disk is full"):
            raise  # no room for the WAL / shared-memory files (a full disk): not damage, never "rebuild" (issue #15)
        raise IndexCorruptError(f"{db_path} is damaged ({exc}). Rebuild the index with `thaigov-search index`.") from exc
    return conn


def check_database(conn: sqlite3.Connection, db_path: Path) -> None:
    """Fail loudly on a damaged SQLite file instead of serving empty results."""
    try:
        row = conn.execute("PRAGMA quick_check(1)").fetchone()
        conn.execute("SELECT count(*) FROM meta").fetchone()
    except sqlite3.DatabaseError as exc:
        raise IndexCorruptError(f"{db_path} is damaged ({exc}). Rebuild the index with `thaigov-search index`.") from exc
    if row is None or row[0] != "ok":
        raise IndexCorruptError(f"{db_path} failed its integrity check ({row}). Rebuild the index with `thaigov-search index`.")


def check_database_size(conn: sqlite3.Connection, db_path: Path) -> None:
    """The cheap part of :func:`check_database`, for a service that must answer within seconds: the
    file is as long as its header says (a truncated copy is the usual damage). ``quick_check`` reads
    every page (about 0.5 s per 340 MB here, so seconds at the full corpus); the service runs it
    in the background (:meth:`IndexReader.verify_files`).

    It never opens the file itself. Closing any descriptor of a file drops every POSIX lock the
    process holds on it, SQLite's own included; a writer in another process (``thaigov-search
    index`` beside ``serve``) then found itself alone at its close, reset the WAL under the
    server's readers, and searches failed with SQLITE_IOERR_SHORT_READ ("disk I/O error":
    scripts/reads_during_writes.py, 26 of 4,230 requests, 2026-12-03). The header's page count
    comes from SQLite, the length from ``stat``; while the WAL holds frames the database may
    legitimately be shorter than its page count, and the background ``quick_check`` judges it.
    """
    try:
        size = os.stat(db_path).st_size
        wal = db_path.with_name(db_path.name + "-wal")
        wal_size = wal.stat().st_size if wal.exists() else 0
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    except (OSError, sqlite3.DatabaseError) as exc:
        raise IndexCorruptError(f"{db_path} cannot be read ({exc}). Rebuild the index with `thaigov-search index`.") from exc
    if size < 100:
        raise IndexCorruptError(f"{db_path} is damaged (no SQLite header). Rebuild the index with `thaigov-search index`.")
    if not wal_size and pages and size < pages * page_size:
        raise IndexCorruptError(f"{db_path} is damaged (truncated: {size} bytes of {pages * page_size}). "
                                "Rebuild the index with `thaigov-search index`.")


def pack_text(text: str) -> bytes:
    """Stored form of long text (bodies, term lists): zlib of the UTF-8, 4.4x smaller for Thai
    releases; unpacking one body takes ~40 microseconds."""
    return zlib.compress(text.encode("utf-8"), 6)


def unpack_text(blob: bytes) -> str:
    return zlib.decompress(blob).decode("utf-8")


def passage_span(body: str, text: str, start: int) -> tuple[int, int] | None:
    """Where ``text`` occurs in ``body`` at or after ``start`` (chunks are cut from the body in order;
    1 passage in ~1,700 is not a span of it and keeps its own text)."""
    found = body.find(text, start)
    return (found, found + len(text)) if found >= 0 and text else None


def passage_text(text: str | None, start: int | None, end: int | None, body: str) -> str:
    return text if text is not None else body[start:end]


def vector_to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def blobs_to_matrix(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimension)


def check_database_schema(conn: sqlite3.Connection) -> None:
    try:
        conn.executescript(SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise IndexCorruptError(f"The index database is damaged ({exc}). Rebuild it with `thaigov-search index`.") from exc


def current_generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def passage_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM passages").fetchone()[0])


