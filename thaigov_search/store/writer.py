"""The index's one writer: articles, passages, vectors and lexical rows in one transaction; vector snapshots.

SQLite (WAL) is the single source of truth. Each indexing batch is one transaction that
writes articles, passages, vectors and lexical rows together and bumps ``generation``. A
``kill -9`` at any point therefore leaves the last committed generation intact, and a rerun
resumes by skipping articles whose content hash is already stored.

FAISS files are derived caches for fast start-up. A snapshot is written under a new name, then
the manifest is atomically replaced to point at it, so a crash never leaves a manifest pointing
at a half-written file. Readers load the snapshot and replay the passages added and removed
since its generation (``passages.gen`` and ``tombstones``) to be exactly up to date
(:mod:`thaigov_search.store.reader`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import faiss
import numpy as np

from thaigov_search.core.article import Article, Passage
from thaigov_search.core.files import file_lock, fsync_dir, sha256_file
from thaigov_search.core.models import canonical_model
from thaigov_search.core.title_phrases import title_phrases
from thaigov_search.store import duplicates, twins
from thaigov_search.store.fts5 import TERMS_SEPARATOR, delete_lexical_row, lexical_rows, stored_terms
from thaigov_search.store.manifest import (
    SNAPSHOT_FILES,
    Manifest,
    ensure_same_model,
    now_iso,
    snapshot_file_name,
)
from thaigov_search.store.postings import build_postings, write_postings
from thaigov_search.store.queries import all_titles
from thaigov_search.store.schema import (
    DB_NAME,
    FORMAT_VERSION,
    check_database_schema,
    connect,
    current_generation,
    pack_text,
    passage_count,
    passage_span,
    unpack_text,
    vector_to_blob,
)
from thaigov_search.store.suggestions import write_suggestions
from thaigov_search.store.vectors import build_vector_index

logger = logging.getLogger(__name__)


SNAPSHOT_LOCK = ".snapshot.lock"


def content_hash(article: Article, chunking_key: str) -> str:
    """Identity of what gets indexed: a changed article (or chunking setting) gets re-embedded."""
    payload = json.dumps(
        [article.title, article.body, article.date, article.category, article.url, article.language, chunking_key],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


SNAPSHOT_DELTA_SHARE = 0.05  # write_snapshot(force=False) waits for this share of changed vectors ...
SNAPSHOT_DELTA_MIN = 1000  # ... and at least this many


class IndexWriter:
    """Write access to one index directory; safe to use from several processes at once."""

    def __init__(self, index_dir: Path, model: str, dimension: int, passage_tokens: int, exact_max: int = 100_000,
                 duplicate_threshold: float = 0.8):
        self.duplicate_threshold = duplicate_threshold
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.index_dir / DB_NAME
        self.exact_max = exact_max
        manifest_exists = Manifest.exists(self.index_dir)
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
                format_version=FORMAT_VERSION, model=canonical_model(model), dimension=dimension, passage_tokens=passage_tokens,
                created_at=now_iso(), built_at=now_iso(), articles=0, passages=0, generation=0,
                snapshot=None, snapshot_generation=0, snapshot_sha256=None, snapshot_kind="flat",
            )
            self._set_meta({"model": canonical_model(model), "dimension": str(dimension)})
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
        signatures: Sequence[np.ndarray | None] | None = None,
        title_vectors: Sequence[np.ndarray | None] | None = None,
    ) -> int:
        """Replace or add articles with their passages and vectors in one transaction.

        ``articles`` holds (article, content_hash, title_tokens, body_tokens); ``passages[i]`` and
        ``vectors[i]`` belong to ``articles[i]``; a vector row may be None for a passage that is
        indexed lexically only. ``signatures[i]`` (MinHash, :mod:`thaigov_search.store.duplicates`)
        is compared with the stored ones in the same transaction, so near-duplicate pairs are never
        behind the articles. ``title_vectors[i]`` is the embedding of the title alone (None: none).
        Returns the new generation.
        """
        signatures = signatures if signatures is not None else [None] * len(articles)
        title_vectors = title_vectors if title_vectors is not None else [None] * len(articles)
        if not articles:
            return self.generation()
        with self.transaction() as gen:
            for (article, digest, title_tokens, body_tokens), article_passages, article_vectors, signature, title_vector in zip(
                articles, passages, vectors, signatures, title_vectors, strict=True
            ):
                self._delete_article(article.id, gen)
                cur = self.conn.execute(
                    "INSERT INTO articles (id, title, date, category, url, language, body, content_hash, gen, indexed_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (article.id, article.title, article.date, article.category, article.url, article.language,
                     pack_text(article.body), digest, gen, now_iso()),
                )
                rowid = cur.lastrowid
                title_terms, body_terms = " ".join(title_tokens), " ".join(body_tokens)
                self.conn.execute("INSERT INTO lexical (rowid, title, body) VALUES (?,?,?)", (rowid, title_terms, body_terms))
                self.conn.execute("INSERT INTO lexical_terms (rowid, terms) VALUES (?,?)",
                                  (rowid, pack_text(title_terms + TERMS_SEPARATOR + body_terms)))
                rows = []
                cursor = 0
                for i, passage in enumerate(article_passages):
                    vec = None
                    if article_vectors is not None and i < len(article_vectors):
                        vec = vector_to_blob(article_vectors[i])
                    span = passage_span(article.body, passage.text, cursor)
                    if span is not None:
                        cursor = span[0]
                    text, (start, end) = (None, span) if span is not None else (passage.text, (None, None))
                    rows.append((rowid, passage.position, text, start, end, passage.n_tokens, vec, gen))
                self.conn.executemany(
                    "INSERT INTO passages (article_rowid, position, text, char_start, char_end, n_tokens, vector, gen)"
                    " VALUES (?,?,?,?,?,?,?,?)", rows
                )
                if signature is not None:
                    duplicates.store_signature(self.conn, rowid, signature, self.duplicate_threshold)
                if title_vector is not None:
                    self.conn.execute("INSERT INTO title_vectors (article_rowid, vector) VALUES (?, ?)",
                                      (rowid, vector_to_blob(title_vector)))
        return gen

    def untitled_articles(self, batch: int = 500) -> Iterator[list[tuple[int, str]]]:
        """Batches of (rowid, title) of the articles with a title but no title vector (indexed before
        title vectors existed): what :meth:`add_title_vectors` should be given."""
        rows = self.conn.execute(
            "SELECT rowid, title FROM articles WHERE title != '' AND rowid NOT IN (SELECT article_rowid FROM title_vectors)"
            " ORDER BY rowid").fetchall()
        for start in range(0, len(rows), batch):
            yield rows[start:start + batch]

    def add_title_vectors(self, vectors: Sequence[tuple[int, np.ndarray]]) -> None:
        """Store title vectors of already indexed articles (one transaction)."""
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO title_vectors (article_rowid, vector) VALUES (?, ?)",
                                  [(rowid, vector_to_blob(v)) for rowid, v in vectors])

    def unsigned_articles(self, batch: int = 500) -> Iterator[list[tuple[int, str, str]]]:
        """Batches of (rowid, title terms, body terms) of the articles stored without a MinHash
        signature (indexed before issue #14): what :meth:`add_signatures` should be given."""
        rowids = duplicates.unsigned_rowids(self.conn)
        for start in range(0, len(rowids), batch):
            yield stored_terms(self.conn, rowids[start:start + batch])

    def add_signatures(self, signatures: Sequence[tuple[int, np.ndarray]]) -> int:
        """Store signatures of already indexed articles (one transaction); returns the pairs found."""
        found = 0
        with self.transaction():
            for rowid, signature in signatures:
                found += duplicates.store_signature(self.conn, rowid, signature, self.duplicate_threshold)
        return found

    def twins_pending(self) -> tuple[int, list[str]]:
        """(the generation now, the dates of the articles written since twins were last linked)."""
        return self.generation(), twins.dates_written_since(self.conn, twins.linked_generation(self.conn))

    def articles_dated(self, periods: Sequence[tuple[str, str]], lead_chars: int) -> list[tuple[int, Article]]:
        """(rowid, article with only the first ``lead_chars`` of its body) dated inside ``periods``."""
        return [(rowid, Article(id=doc_id, title=title, body=unpack_text(body)[:lead_chars], date=date, language=language))
                for rowid, doc_id, title, body, date, language in twins.articles_between(self.conn, periods)]

    def replace_twins(self, periods: Sequence[tuple[str, str]], links: Sequence[tuple[int, int, float, str]],
                      linked_through: int) -> None:
        """The twins of the English releases dated inside ``periods``, replaced in one transaction that
        also records that the articles up to generation ``linked_through`` are linked."""
        with self.transaction():
            twins.replace(self.conn, periods, links)
            twins.set_linked_generation(self.conn, linked_through)

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
        duplicates.forget(self.conn, rowid)
        self.conn.execute(
            "INSERT OR REPLACE INTO tombstones (pid, gen) SELECT pid, ? FROM passages WHERE article_rowid = ? AND vector IS NOT NULL",
            (gen, rowid),
        )
        self.conn.execute("DELETE FROM passages WHERE article_rowid = ?", (rowid,))
        delete_lexical_row(self.conn, rowid)
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
            if self.conn.in_transaction:  # SQLite already rolled back after a full disk / I/O error
                self.conn.execute("ROLLBACK")
            raise

    def _set_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items()))

    # -------------------------------------------------------------------------- snapshots
    def write_snapshot(self, force: bool = True) -> Manifest:
        """Persist a FAISS snapshot of the current generation, with the BM25 postings and the
        suggestion phrases of the same generation, and point the manifest at them.

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
                current = all(getattr(manifest, field) for field in SNAPSHOT_FILES) and kind == manifest.snapshot_kind
                if gen == manifest.snapshot_generation and current:
                    return manifest
                if not force and current and \
                        self._changed_since(manifest.snapshot_generation) < max(SNAPSHOT_DELTA_MIN, SNAPSHOT_DELTA_SHARE * n_vectors):
                    return manifest
                index = build_vector_index(self.conn, manifest.dimension, kind)
                postings = build_postings(lexical_rows(self.conn), sort_terms=True)  # the same generation
                titles = all_titles(self.conn)
            finally:
                self.conn.execute("COMMIT")
            phrases = title_phrases(titles)
            writers = {
                "snapshot": lambda tmp: faiss.write_index(index, str(tmp)),
                "lexical": lambda tmp: write_postings(postings, list(postings.vocab), tmp),
                "suggestions": lambda tmp: write_suggestions(phrases, tmp),
            }
            files: dict[str, str] = {}
            for field in SNAPSHOT_FILES:
                files[field] = snapshot_file_name(field, gen)
                self._write_file(self.index_dir / files[field], writers[field])
            fsync_dir(self.index_dir)
            digests = {f"{field}_sha256": sha256_file(self.index_dir / name) for field, name in files.items()}
            new = Manifest(
                **{
                    **manifest.__dict__,
                    "built_at": now_iso(), "articles": n_articles, "passages": n_passages,
                    "generation": gen, "snapshot_generation": gen, "snapshot_kind": kind, **files, **digests,
                }
            )
            new.write(self.index_dir)
            self._prune(new)
            self.manifest = new
            return new

    def _write_file(self, path: Path, write) -> None:
        """``write(tmp)`` then fsync and rename to ``path``: a reader never maps a half-written file,
        and one still mapping an older file with the same name keeps its own inode."""
        tmp = self.index_dir / f".{path.name}.tmp"
        try:
            write(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        except BaseException:  # a full disk or killed mid-write: drop the partial file, keep the manifest
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.replace(tmp, path)

    def _changed_since(self, generation: int) -> int:
        """Vectors added or removed after ``generation`` (inside the caller's read transaction)."""
        added, removed = self.conn.execute(
            "SELECT (SELECT count(*) FROM passages WHERE gen > ? AND vector IS NOT NULL),"
            " (SELECT count(*) FROM tombstones WHERE gen > ?)", (generation, generation)
        ).fetchone()
        return int(added) + int(removed)

    def _prune(self, manifest: Manifest) -> None:
        """Remove superseded snapshot files (a running reader that maps one keeps its inode until it
        lets go: unlinking never changes what it sees)."""
        current = {name for name, _ in manifest.snapshot_files()}
        patterns = [p for stem, suffix in SNAPSHOT_FILES.values() for p in (f"{stem}-*{suffix}", f".{stem}-*.tmp")]
        for pattern in patterns:
            for old in self.index_dir.glob(pattern):
                if old.name not in current:
                    with contextlib.suppress(FileNotFoundError):
                        old.unlink()

    def close(self) -> None:
        self.conn.close()
