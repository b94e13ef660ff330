"""The index directory on disk: SQLite metadata + FTS5 lexical index + FAISS vector snapshots.

Layout of an index directory::

    manifest.json          format version, model, dimension, counts, current vector snapshot
    index.sqlite           articles, passages (with their vectors), FTS5 lexical index, tombstones
    vectors-<gen>.faiss    FAISS snapshot of passage vectors as of SQLite generation <gen>

Why this shape:

* SQLite (WAL) is the single source of truth. Each indexing batch is one transaction that
  writes articles, passages, vectors and lexical rows together and bumps ``generation``. A
  ``kill -9`` at any point therefore leaves the last committed generation intact, and a rerun
  resumes by skipping articles whose content hash is already stored.
* FAISS files are derived caches for fast start-up. A snapshot is written under a new name, then
  the manifest is atomically replaced to point at it, so a crash never leaves a manifest pointing
  at a half-written file. Readers load the snapshot and replay the passages added and removed
  since its generation (``passages.gen`` and ``tombstones``) to be exactly up to date.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from thaigov_search.core.article import Article, Passage

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DB_NAME = "index.sqlite"
SNAPSHOT_LOCK = ".snapshot.lock"

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
    body TEXT NOT NULL,
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
    text TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    vector BLOB,
    gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_rowid);
CREATE INDEX IF NOT EXISTS passages_gen ON passages(gen);
CREATE TABLE IF NOT EXISTS tombstones (pid INTEGER PRIMARY KEY, gen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_gen ON tombstones(gen);
CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5(title, body, tokenize = 'ascii');
CREATE VIRTUAL TABLE IF NOT EXISTS lexical_vocab USING fts5vocab(lexical, 'row');
"""


class IndexError_(Exception):
    """Base class for index problems a user can act on."""


class IndexNotFoundError(IndexError_):
    """The directory holds no index."""


class IndexCorruptError(IndexError_):
    """A file of the index is damaged or missing."""


class ModelMismatchError(IndexError_):
    """The index was built with another embedding model."""


@dataclass(frozen=True)
class StoredArticle:
    """An article row as the read path needs it."""

    rowid: int
    id: str
    title: str
    date: str | None
    category: str
    url: str
    language: str
    body: str


@dataclass(frozen=True)
class Manifest:
    """What an index is: written atomically next to the data it describes."""

    format_version: int
    model: str
    dimension: int
    passage_tokens: int
    created_at: str
    built_at: str
    articles: int
    passages: int
    generation: int
    snapshot: str | None  # file name of the current FAISS snapshot
    snapshot_generation: int
    snapshot_sha256: str | None
    snapshot_kind: str  # "flat" or "hnsw"

    @staticmethod
    def read(index_dir: Path) -> Manifest:
        path = index_dir / MANIFEST_NAME
        if not path.exists():
            if (index_dir / DB_NAME).exists():
                raise IndexCorruptError(f"{path} is missing; the index in {index_dir} is incomplete. Re-run `thaigov-search index`.")
            raise IndexNotFoundError(f"No index in {index_dir}: build one with `thaigov-search index --index-dir {index_dir} --input ...`.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Manifest(**data)
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"{path} is damaged ({exc}). Rebuild the index or restore the file.") from exc

    def write(self, index_dir: Path) -> None:
        atomic_write_text(index_dir / MANIFEST_NAME, json.dumps(self.__dict__, ensure_ascii=False, indent=2))


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file + fsync + rename so readers see the old or the new file, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(article: Article, chunking_key: str) -> str:
    """Identity of what gets indexed: a changed article (or chunking setting) gets re-embedded."""
    payload = json.dumps(
        [article.title, article.body, article.date, article.category, article.url, article.language, chunking_key],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


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


def vector_to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def blobs_to_matrix(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimension)


# HNSW settings measured on the full corpus (91,686 lead-passage vectors, 1,094 real queries,
# benchmarks/hnsw_recall.py): recall@10 against exact search 0.858 at efSearch 128, 0.955 at 400,
# 0.993 at 1,500 (4.9 ms, about what exact search costs at that size: 6 ms), hence the exact
# threshold of 100,000 vectors (config.exact_search_max_passages). efConstruction 200 gained
# 0.07-0.10 recall over 80 at equal efSearch; M 48 gained nothing over 32.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 1500


def new_vector_index(dimension: int, kind: str) -> faiss.Index:
    """Exact inner product for small indexes, HNSW for large ones; both keyed by passage id."""
    if kind == "hnsw":
        base = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        base.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        base = faiss.IndexFlatIP(dimension)
    return faiss.IndexIDMap2(base)


SNAPSHOT_DELTA_SHARE = 0.05  # write_snapshot(force=False) waits for this share of changed vectors ...
SNAPSHOT_DELTA_MIN = 1000  # ... and at least this many


class IndexWriter:
    """Write access to one index directory; safe to use from several processes at once."""

    def __init__(self, index_dir: Path, model: str, dimension: int, passage_tokens: int, exact_max: int = 100_000):
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.index_dir / DB_NAME
        self.exact_max = exact_max
        manifest_exists = (self.index_dir / MANIFEST_NAME).exists()
        if self.db_path.exists() and not manifest_exists:
            # A crash between creating the database and the first manifest: nothing was committed
            # that a manifest would describe, so finish initialising it.
            logger.warning("%s has no manifest yet; completing its initialisation", self.index_dir)
        self.conn = connect(self.db_path)
        check_database_schema(self.conn)
        if manifest_exists:
            manifest = Manifest.read(self.index_dir)
            ensure_same_model(manifest, model, dimension, self.index_dir)
            self.manifest = manifest
        else:
            self.manifest = Manifest(
                format_version=FORMAT_VERSION, model=model, dimension=dimension, passage_tokens=passage_tokens,
                created_at=now_iso(), built_at=now_iso(), articles=0, passages=0, generation=0,
                snapshot=None, snapshot_generation=0, snapshot_sha256=None, snapshot_kind="flat",
            )
            self._set_meta({"model": model, "dimension": str(dimension)})
            self.manifest.write(self.index_dir)

    # ----------------------------------------------------------------- reads used by the writer
    def stored_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given ids that are already in the index."""
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            out.update(self.conn.execute(f"SELECT id, content_hash FROM articles WHERE id IN ({marks})", chunk).fetchall())
        return out

    def generation(self) -> int:
        return current_generation(self.conn)

    # ----------------------------------------------------------------------------- writes
    def write_batch(
        self,
        articles: Sequence[tuple[Article, str, list[str], list[str]]],
        passages: Sequence[Sequence[Passage]],
        vectors: Sequence[np.ndarray | None],
    ) -> int:
        """Replace or add articles with their passages and vectors in one transaction.

        ``articles`` holds (article, content_hash, title_tokens, body_tokens); ``passages[i]`` and
        ``vectors[i]`` belong to ``articles[i]``; a vector row may be None for a passage that is
        indexed lexically only. Returns the new generation.
        """
        if not articles:
            return self.generation()
        with self.transaction() as gen:
            for (article, digest, title_tokens, body_tokens), article_passages, article_vectors in zip(
                articles, passages, vectors, strict=True
            ):
                self._delete_article(article.id, gen)
                cur = self.conn.execute(
                    "INSERT INTO articles (id, title, date, category, url, language, body, content_hash, gen, indexed_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (article.id, article.title, article.date, article.category, article.url, article.language,
                     article.body, digest, gen, now_iso()),
                )
                rowid = cur.lastrowid
                self.conn.execute(
                    "INSERT INTO lexical (rowid, title, body) VALUES (?,?,?)",
                    (rowid, " ".join(title_tokens), " ".join(body_tokens)),
                )
                rows = []
                for i, passage in enumerate(article_passages):
                    vec = None
                    if article_vectors is not None and i < len(article_vectors):
                        vec = vector_to_blob(article_vectors[i])
                    rows.append((rowid, passage.position, passage.text, passage.n_tokens, vec, gen))
                self.conn.executemany(
                    "INSERT INTO passages (article_rowid, position, text, n_tokens, vector, gen) VALUES (?,?,?,?,?,?)", rows
                )
        return gen

    def delete(self, ids: Iterable[str]) -> list[str]:
        """Delete articles by id in one transaction; returns the ids that existed."""
        removed: list[str] = []
        with self.transaction() as gen:
            for doc_id in ids:
                if self._delete_article(doc_id, gen):
                    removed.append(doc_id)
        return removed

    def _delete_article(self, doc_id: str, gen: int) -> bool:
        row = self.conn.execute("SELECT rowid FROM articles WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return False
        rowid = row[0]
        self.conn.execute(
            "INSERT OR REPLACE INTO tombstones (pid, gen) SELECT pid, ? FROM passages WHERE article_rowid = ? AND vector IS NOT NULL",
            (gen, rowid),
        )
        self.conn.execute("DELETE FROM passages WHERE article_rowid = ?", (rowid,))
        self.conn.execute("DELETE FROM lexical WHERE rowid = ?", (rowid,))
        self.conn.execute("DELETE FROM articles WHERE rowid = ?", (rowid,))
        return True

    @contextlib.contextmanager
    def transaction(self) -> Iterator[int]:
        """BEGIN IMMEDIATE ... COMMIT, yielding the generation this transaction creates."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            gen = current_generation(self.conn) + 1
            yield gen
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?)", (str(gen),))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _set_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items()))

    # -------------------------------------------------------------------------- snapshots
    def write_snapshot(self, force: bool = True) -> Manifest:
        """Persist a FAISS snapshot of the current generation and point the manifest at it.

        Holds a file lock so two writers never write snapshots at the same time; the old
        snapshot is deleted only after the manifest points at the new one. With ``force=False``
        (small writes through the API) a snapshot is written only once the vectors changed since
        the last one reach :data:`SNAPSHOT_DELTA_SHARE` of the index: readers replay a small delta
        from the database in milliseconds, while rebuilding an HNSW snapshot of 100,000 vectors
        takes about a minute.
        """
        with file_lock(self.index_dir / SNAPSHOT_LOCK):
            manifest = Manifest.read(self.index_dir)
            self.conn.execute("BEGIN")  # one read snapshot: counts, generation and vectors agree
            try:
                gen = current_generation(self.conn)
                n_articles, n_vectors = self.conn.execute(
                    "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages WHERE vector IS NOT NULL)"
                ).fetchone()
                n_passages = passage_count(self.conn)
                kind = "hnsw" if n_vectors > self.exact_max else "flat"
                if gen == manifest.snapshot_generation and manifest.snapshot and kind == manifest.snapshot_kind:
                    return manifest
                if not force and manifest.snapshot and kind == manifest.snapshot_kind and \
                        self._changed_since(manifest.snapshot_generation) < max(SNAPSHOT_DELTA_MIN, SNAPSHOT_DELTA_SHARE * n_vectors):
                    return manifest
                index = build_vector_index(self.conn, manifest.dimension, kind)
            finally:
                self.conn.execute("COMMIT")
            name = f"vectors-{gen}.faiss"
            path = self.index_dir / name
            tmp = self.index_dir / f".{name}.tmp"
            faiss.write_index(index, str(tmp))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            fsync_dir(self.index_dir)
            new = Manifest(
                **{
                    **manifest.__dict__,
                    "built_at": now_iso(), "articles": n_articles, "passages": n_passages,
                    "generation": gen, "snapshot": name, "snapshot_generation": gen,
                    "snapshot_sha256": sha256_file(path), "snapshot_kind": kind,
                }
            )
            new.write(self.index_dir)
            self._prune(new)
            self.manifest = new
            return new

    def _changed_since(self, generation: int) -> int:
        """Vectors added or removed after ``generation`` (inside the caller's read transaction)."""
        added, removed = self.conn.execute(
            "SELECT (SELECT count(*) FROM passages WHERE gen > ? AND vector IS NOT NULL),"
            " (SELECT count(*) FROM tombstones WHERE gen > ?)", (generation, generation)
        ).fetchone()
        return int(added) + int(removed)

    def _prune(self, manifest: Manifest) -> None:
        """Remove superseded snapshot files (a running reader keeps its copy in memory)."""
        for old in self.index_dir.glob("vectors-*.faiss"):
            if old.name != manifest.snapshot:
                with contextlib.suppress(FileNotFoundError):
                    old.unlink()
        for tmp in self.index_dir.glob(".vectors-*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def close(self) -> None:
        self.conn.close()


def build_vector_index(conn: sqlite3.Connection, dimension: int, kind: str, batch: int = 20_000) -> faiss.Index:
    """Build a FAISS index from every stored passage vector (the caller holds a read transaction)."""
    index = new_vector_index(dimension, kind)
    last = 0
    while True:
        rows = conn.execute(
            "SELECT pid, vector FROM passages WHERE vector IS NOT NULL AND pid > ? ORDER BY pid LIMIT ?", (last, batch)
        ).fetchall()
        if not rows:
            break
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        index.add_with_ids(blobs_to_matrix([r[1] for r in rows], dimension), ids)
        last = int(ids[-1])
    return index


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


def ensure_same_model(manifest: Manifest, model: str, dimension: int | None, index_dir: Path) -> None:
    """Vectors from two models are not comparable: refuse to mix them."""
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"{index_dir} uses index format {manifest.format_version}, this program reads {FORMAT_VERSION}. Rebuild the index."
        )
    if manifest.model != model or (dimension is not None and manifest.dimension != dimension):
        raise ModelMismatchError(
            f"{index_dir} was built with model '{manifest.model}' (dimension {manifest.dimension}), "
            f"not '{model}'. Use --model {manifest.model}, or index into a new --index-dir."
        )


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def article_from_row(row: Sequence[Any]) -> StoredArticle:
    return StoredArticle(*row)


ARTICLE_COLUMNS = "rowid, id, title, date, category, url, language, body"
