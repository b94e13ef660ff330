"""The FTS5 table ``lexical``: how it splits text, and BM25 asked of SQLite itself.

The indexer stores PyThaiNLP tokens joined by spaces and FTS5's ``ascii`` tokenizer splits only on
ASCII separators (and folds ASCII case), so Thai words stay whole. That tokenizer rule is written
here once, in its two forms: :func:`fts_terms` for any token (a query's), :func:`fts_tokens` for a
stored term string. Query tokens are quoted, so FTS syntax in user input (``AND``, ``*``, ``"``,
``:``) is always literal text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from thaigov_search.core.filters import Filters
from thaigov_search.store.queries import filter_clause
from thaigov_search.store.schema import unpack_text

TERMS_SEPARATOR = "\x1f"  # between the title and body terms of a stored row (terms never contain it)

TITLE_WEIGHT = 2.0  # BM25 column weights of the lexical table (title counts twice), defined once
BODY_WEIGHT = 1.0


def fts_terms(token: str) -> list[str]:
    """How FTS5's ascii tokenizer splits one of our tokens (ASCII punctuation separates)."""
    out, cur = [], []
    for ch in token:
        if ord(ch) < 128 and not ch.isalnum():
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch.lower() if ord(ch) < 128 else ch)
    if cur:
        out.append("".join(cur))
    return out


def fts_tokens(stored: str) -> list[str]:
    """:func:`fts_terms` over a stored term string, fast: the indexer's terms contain no ASCII
    separator except the decimal point of numbers (``2.5``), and Latin is already lower case."""
    return stored.replace(".", " ").split()


def quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def match_expression(terms: Iterable[str]) -> str | None:
    """An OR query of the quoted terms (None when there are none)."""
    quoted = [quote(t) for t in terms]
    return " OR ".join(quoted) if quoted else None


def vocab_doc_freq(conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
    """Documents holding each term, from FTS5's vocabulary table (terms absent from the index are left out)."""
    if not terms:
        return {}
    marks = ",".join("?" * len(terms))
    return dict(conn.execute(f"SELECT term, doc FROM lexical_vocab WHERE term IN ({marks})", tuple(terms)).fetchall())


def bm25_search(conn: sqlite3.Connection, expression: str, limit: int, title_weight: float, body_weight: float,
                filters: Filters | None = None) -> list[tuple[int, float]]:
    """(article rowid, BM25 score) best first for an FTS5 MATCH ``expression``; the score is positive."""
    where_sql, where_args = filter_clause(filters or Filters())
    sql = (
        f"SELECT lexical.rowid, -bm25(lexical, {title_weight}, {body_weight}) AS score FROM lexical "
        + ("JOIN articles a ON a.rowid = lexical.rowid " if where_sql else "")
        + "WHERE lexical MATCH ? "
        + (f"AND {where_sql} " if where_sql else "")
        + f"ORDER BY bm25(lexical, {title_weight}, {body_weight}) LIMIT ?"
    )
    return [(int(r), float(s)) for r, s in conn.execute(sql, (expression, *where_args, limit)).fetchall()]


def lexical_rows(conn: sqlite3.Connection, after_rowid: int = 0) -> Iterator[tuple[int, str, str]]:
    """(rowid, title terms, body terms) of the stored lexical rows above ``after_rowid``, ascending."""
    for rowid, blob in conn.execute("SELECT rowid, terms FROM lexical_terms WHERE rowid > ? ORDER BY rowid", (after_rowid,)):
        title, body = unpack_text(blob).split(TERMS_SEPARATOR, 1)
        yield rowid, title, body


def stored_terms(conn: sqlite3.Connection, rowids: Sequence[int]) -> list[tuple[int, str, str]]:
    """(rowid, title terms, body terms) of the given articles, as the indexer stored them (the FTS5
    table is contentless: the terms live compressed in ``lexical_terms``)."""
    marks = ",".join("?" * len(rowids))
    out = []
    for rowid, blob in conn.execute(f"SELECT rowid, terms FROM lexical_terms WHERE rowid IN ({marks}) ORDER BY rowid",
                                    list(rowids)):
        title, body = unpack_text(blob).split(TERMS_SEPARATOR, 1)
        out.append((rowid, title, body))
    return out


def stored_term_set(conn: sqlite3.Connection, rowid: int) -> set[str]:
    """The distinct BM25 terms of one article (title and body), as the query's terms are spelled."""
    rows = stored_terms(conn, [rowid])
    return {t for _, title, body in rows for t in fts_tokens(title) + fts_tokens(body)}


def delete_lexical_row(conn: sqlite3.Connection, rowid: int) -> None:
    """Remove an article's row. The FTS5 table is contentless (it does not keep a second copy of the
    terms, 96 MB at 10,000 releases), so FTS5 is told exactly which terms to unindex: the stored ones."""
    row = conn.execute("SELECT terms FROM lexical_terms WHERE rowid = ?", (rowid,)).fetchone()
    if row is None:
        return
    title, body = unpack_text(row[0]).split(TERMS_SEPARATOR, 1)
    conn.execute("INSERT INTO lexical (lexical, rowid, title, body) VALUES ('delete', ?, ?, ?)", (rowid, title, body))
    conn.execute("DELETE FROM lexical_terms WHERE rowid = ?", (rowid,))


def vocabulary(conn: sqlite3.Connection, min_docs: int = 1) -> dict[str, int]:
    """Every indexed term held by at least ``min_docs`` articles, with its document count (FTS5's
    vocabulary table; a scan of the whole lexical index, so callers cache it)."""
    return dict(conn.execute("SELECT term, doc FROM lexical_vocab WHERE doc >= ?", (min_docs,)).fetchall())
