"""The named read queries the read path asks of the index database; it writes no SQL of its own.

Every function runs on the caller's connection, so a caller inside a read transaction
(:meth:`thaigov_search.store.reader.IndexReader.snapshot`) sees one committed generation throughout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from thaigov_search.core.filters import Filters
from thaigov_search.store.catalog import has_table
from thaigov_search.store.schema import blobs_to_matrix, passage_text, unpack_text


def filter_clause(filters: Filters) -> tuple[str, tuple]:
    """A WHERE fragment over ``articles a`` (empty when nothing is filtered) and its parameters."""
    clauses, args = [], []
    if filters.date_from:
        clauses.append("a.date >= ?")
        args.append(filters.date_from)
    if filters.date_to:
        clauses.append("a.date <= ?")
        args.append(filters.date_to)
    if filters.category:
        clauses.append("a.category = ?")
        args.append(filters.category)
    if filters.language:
        clauses.append("a.language = ?")
        args.append(filters.language)
    return " AND ".join(clauses), tuple(args)


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Every SELECT inside sees one committed generation."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def article_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def max_article_rowid(conn: sqlite3.Connection) -> int:
    """The largest article rowid (0 for an empty index); O(1)."""
    return int(conn.execute("SELECT max(rowid) FROM articles").fetchone()[0] or 0)


def article_rowids_matching(conn: sqlite3.Connection, filters: Filters) -> np.ndarray:
    """Rowids (int64) of the articles that pass ``filters``."""
    where, args = filter_clause(filters)
    sql = "SELECT a.rowid FROM articles a" + (f" WHERE {where}" if where else "")
    return np.array([r[0] for r in conn.execute(sql, args)], dtype=np.int64)


def rowids_passing(conn: sqlite3.Connection, filters: Filters, rowids: Collection[int]) -> set[int]:
    """Those of ``rowids`` whose article the filter lets through."""
    if not rowids:
        return set()
    where, args = filter_clause(filters)
    rowids = list(rowids)
    marks = ",".join("?" * len(rowids))
    extra = f" AND {where}" if where else ""
    return {r[0] for r in conn.execute(f"SELECT a.rowid FROM articles a WHERE a.rowid IN ({marks}){extra}", (*rowids, *args))}


def embedded_pids_matching(conn: sqlite3.Connection, filters: Filters) -> list[int]:
    """Ids of the embedded passages of the articles that pass ``filters``."""
    where, args = filter_clause(filters)
    rows = conn.execute(
        "SELECT p.pid FROM passages p JOIN articles a ON a.rowid = p.article_rowid WHERE p.vector IS NOT NULL"
        + (f" AND {where}" if where else ""),
        args,
    ).fetchall()
    return [r[0] for r in rows]


def passage_owners(conn: sqlite3.Connection, pids: Sequence[int]) -> dict[int, int]:
    """Passage id -> its article's rowid, for the passages that still exist."""
    if not pids:
        return {}
    marks = ",".join("?" * len(pids))
    return dict(conn.execute(f"SELECT pid, article_rowid FROM passages WHERE pid IN ({marks})", list(pids)).fetchall())


def result_rows(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, tuple]:
    """Article rowid -> (id, title, date, category, url): what a search result shows."""
    marks = ",".join("?" * len(rowids))
    return {r[0]: r[1:] for r in conn.execute(
        f"SELECT rowid, id, title, date, category, url FROM articles WHERE rowid IN ({marks})", list(rowids))}


def passages_of(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
    """Article rowid -> its passages as (pid, text), in article order."""
    marks = ",".join("?" * len(rowids))
    bodies = {rowid: unpack_text(blob) for rowid, blob in conn.execute(
        f"SELECT rowid, body FROM articles WHERE rowid IN ({marks})", list(rowids))}
    passages: dict[int, list[tuple[int, str]]] = {}
    for rowid, pid, text, start, end in conn.execute(
            f"SELECT article_rowid, pid, text, char_start, char_end FROM passages WHERE article_rowid IN ({marks}) "
            "ORDER BY article_rowid, position", list(rowids)):
        passages.setdefault(rowid, []).append((pid, passage_text(text, start, end, bodies.get(rowid, ""))))
    return passages


def article_passages(conn: sqlite3.Connection) -> Iterator[tuple[int, str, str, int, int, str, bool]]:
    """Every article with its passages, for checks and tools: (rowid, id, title, pid, position, text,
    has vector), by article then position (an article without passages is left out)."""
    body_of: tuple[int, str] = (0, "")
    for rowid, doc_id, title, blob, pid, position, text, start, end, has_vector in conn.execute(
            "SELECT a.rowid, a.id, a.title, a.body, p.pid, p.position, p.text, p.char_start, p.char_end,"
            " p.vector IS NOT NULL FROM passages p JOIN articles a ON a.rowid = p.article_rowid"
            " ORDER BY a.rowid, p.position"):
        if body_of[0] != rowid:
            body_of = (rowid, unpack_text(blob))
        yield rowid, doc_id, title, pid, position, passage_text(text, start, end, body_of[1]), bool(has_vector)


def article_bodies(conn: sqlite3.Connection) -> Iterator[tuple[int, str, str, str, str]]:
    """Every article as (rowid, id, title, body, content hash), for checks and tools."""
    for rowid, doc_id, title, blob, digest in conn.execute("SELECT rowid, id, title, body, content_hash FROM articles"):
        yield rowid, doc_id, title, unpack_text(blob), digest


def article_rowid_and_title(conn: sqlite3.Connection, doc_id: str) -> tuple[int, str] | None:
    row = conn.execute("SELECT rowid, title FROM articles WHERE id = ?", (doc_id,)).fetchone()
    return (row[0], row[1]) if row else None


def embedded_pids_of(conn: sqlite3.Connection, rowid: int) -> list[int]:
    """Ids of one article's embedded passages, in article order."""
    return [r[0] for r in conn.execute(
        "SELECT pid FROM passages WHERE article_rowid = ? AND vector IS NOT NULL ORDER BY position", (rowid,))]


def index_counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(articles, passages)."""
    articles, passages = conn.execute(
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages)").fetchone()
    return articles, passages


def category_counts(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(category, articles) by descending count, then name."""
    return conn.execute(
        "SELECT category, count(*) FROM articles GROUP BY category ORDER BY count(*) DESC, category").fetchall()


def article_languages(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, str]:
    """Article rowid -> its language (th/en), for the articles that still exist."""
    if not rowids:
        return {}
    marks = ",".join("?" * len(rowids))
    return dict(conn.execute(f"SELECT rowid, language FROM articles WHERE rowid IN ({marks})", list(rowids)))


def article_dates(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, str | None]:
    """Article rowid -> its date (ISO, or None when undated), for the articles that still exist."""
    if not rowids:
        return {}
    marks = ",".join("?" * len(rowids))
    return dict(conn.execute(f"SELECT rowid, date FROM articles WHERE rowid IN ({marks})", list(rowids)))


def article_ids_and_languages(conn: sqlite3.Connection) -> dict[int, tuple[str, str]]:
    """Every article: rowid -> (id, language); what eval maps rankings and per-language metrics with."""
    return {rowid: (doc_id, lang) for rowid, doc_id, lang in conn.execute("SELECT rowid, id, language FROM articles")}


def embedded_pids_by_language(conn: sqlite3.Connection) -> dict[str, np.ndarray]:
    """language -> ids (int64, ascending) of the embedded passages of that language's articles."""
    rows = conn.execute(
        "SELECT p.pid, a.language FROM passages p JOIN articles a ON a.rowid = p.article_rowid "
        "WHERE p.vector IS NOT NULL ORDER BY p.pid"
    ).fetchall()
    out: dict[str, list[int]] = {}
    for pid, lang in rows:
        out.setdefault(lang, []).append(pid)
    return {lang: np.array(pids, dtype=np.int64) for lang, pids in out.items()}


def passage_vectors(conn: sqlite3.Connection, pids: Sequence[int], dimension: int) -> np.ndarray:
    """The stored vectors of these passages (float32, n x dimension), in the order SQLite returns them."""
    blobs: list[bytes] = []
    for start in range(0, len(pids), 900):  # SQLite's variable limit
        part = list(pids[start:start + 900])
        marks = ",".join("?" * len(part))
        blobs += [r[0] for r in conn.execute(f"SELECT vector FROM passages WHERE pid IN ({marks})", part)]
    return blobs_to_matrix(blobs, dimension)


def title_vectors(conn: sqlite3.Connection, rowids: Sequence[int], dimension: int) -> tuple[list[int], np.ndarray]:
    """The title vectors of those of ``rowids`` that have one: (their rowids, a matrix in that order);
    none from an index built before title vectors."""
    rows: list[tuple[int, bytes]] = []
    if not has_table(conn, "title_vectors"):
        rowids = []
    for start in range(0, len(rowids), 900):  # SQLite's variable limit
        part = list(rowids[start:start + 900])
        marks = ",".join("?" * len(part))
        rows += conn.execute(f"SELECT article_rowid, vector FROM title_vectors WHERE article_rowid IN ({marks})",
                             part).fetchall()
    return [r[0] for r in rows], blobs_to_matrix([r[1] for r in rows], dimension)


def article_facts(conn: sqlite3.Connection) -> list[tuple[int, str | None, str]]:
    """Every article's (rowid, date, category): what facets, date sorting and recency read (once per generation)."""
    return conn.execute("SELECT rowid, date, category FROM articles").fetchall()


def newest_date(conn: sqlite3.Connection) -> str | None:
    """The latest release date in the index (ISO), or None when nothing is dated."""
    return conn.execute("SELECT max(date) FROM articles").fetchone()[0]


def all_titles(conn: sqlite3.Connection) -> list[str]:
    """Every article's title (what search suggestions are built from)."""
    return [r[0] for r in conn.execute("SELECT title FROM articles")]
