"""English <-> Thai twins in the index: which English release reports the same event as which Thai one.

One table (added to an existing index by ``CREATE TABLE IF NOT EXISTS``, like the near-duplicate
tables: no format bump; an index built before it gains its twins at the next ``thaigov-search
index`` run)::

    twins(en, th, score, shared)   en, th: article rowids; score: the linker's cosine + evidence bonus;
                                   shared: the numbers and Latin names both texts hold (space-separated)

An article has at most one twin (both columns are unique). Rows go with either article (``ON DELETE
CASCADE``; a replaced article gets a new rowid and is linked again). The meta key
:data:`LINKED_KEY` records the generation up to which twins were linked: articles written after it
(``articles.gen`` greater) are what the next linking run looks at, so a run killed before it
linked leaves the work to the next one instead of losing it.

Who links what (date windows, evidence, the dense test) is the write path's business
(:mod:`thaigov_search.indexing.twins`); here is only how links are stored and read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from thaigov_search.store import catalog

SCHEMA = """
CREATE TABLE IF NOT EXISTS twins (
    en INTEGER PRIMARY KEY REFERENCES articles(rowid) ON DELETE CASCADE,
    th INTEGER NOT NULL UNIQUE REFERENCES articles(rowid) ON DELETE CASCADE,
    score REAL NOT NULL,
    shared TEXT NOT NULL DEFAULT ''
);
"""
LINKED_KEY = "twins_generation"
"""meta key: the generation whose articles have been through twin linking."""


def has_table(conn: sqlite3.Connection) -> bool:
    """False for an index built before twins and not written since (readers then see no twins)."""
    return catalog.has_table(conn, "twins")


def linked_generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (LINKED_KEY,)).fetchone()
    return int(row[0]) if row else 0


def dates_written_since(conn: sqlite3.Connection, generation: int) -> list[str]:
    """The distinct dates of the articles written after ``generation`` (undated ones never twin)."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT date FROM articles WHERE gen > ? AND date IS NOT NULL ORDER BY date", (generation,))]


def articles_between(conn: sqlite3.Connection, periods: Sequence[tuple[str, str]]
                     ) -> list[tuple[int, str, str, bytes, str, str]]:
    """(rowid, id, title, packed body, date, language) of the articles dated inside any of
    ``periods`` (inclusive ISO bounds)."""
    out = []
    for start, end in periods:
        out += conn.execute("SELECT rowid, id, title, body, date, language FROM articles WHERE date BETWEEN ? AND ?"
                            " ORDER BY rowid", (start, end)).fetchall()
    return out


def replace(conn: sqlite3.Connection, periods: Sequence[tuple[str, str]],
            links: Sequence[tuple[int, int, float, str]]) -> None:
    """Inside the caller's transaction: drop the twins whose English release is dated inside
    ``periods`` and store ``links`` ((en rowid, th rowid, score, shared)) in their place; a Thai
    release linked elsewhere before is re-linked to its new English twin."""
    for start, end in periods:
        conn.execute("DELETE FROM twins WHERE en IN (SELECT rowid FROM articles WHERE date BETWEEN ? AND ?)",
                     (start, end))
    conn.executemany("DELETE FROM twins WHERE th = ?", [(th,) for _, th, _, _ in links])
    conn.executemany("INSERT OR REPLACE INTO twins (en, th, score, shared) VALUES (?, ?, ?, ?)", links)


def set_linked_generation(conn: sqlite3.Connection, generation: int) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (LINKED_KEY, str(generation)))


def all_links(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    """Every (en rowid, th rowid); empty on an index without the table."""
    if not has_table(conn):
        return []
    return conn.execute("SELECT en, th FROM twins").fetchall()


def twin_rows(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, tuple[str, str, str, str]]:
    """rowid -> (twin id, title, language, url) for those of ``rowids`` that have a twin."""
    if not rowids or not has_table(conn):
        return {}
    marks = ",".join("?" * len(rowids))
    out: dict[int, tuple[str, str, str, str]] = {}
    for own, doc_id, title, language, url in conn.execute(
            f"SELECT t.en, a.id, a.title, a.language, a.url FROM twins t JOIN articles a ON a.rowid = t.th"
            f" WHERE t.en IN ({marks}) UNION ALL SELECT t.th, a.id, a.title, a.language, a.url FROM twins t"
            f" JOIN articles a ON a.rowid = t.en WHERE t.th IN ({marks})", (*rowids, *rowids)):
        out[own] = (doc_id, title, language, url)
    return out
