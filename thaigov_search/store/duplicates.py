"""Near-duplicate releases in the index: MinHash signatures, their LSH band keys and the pairs found.

Three tables (added to an existing index by ``CREATE TABLE IF NOT EXISTS``: no format bump; an index
built before them has no signatures until the next ``thaigov-search index`` run fills them in)::

    minhash(article_rowid, signature)          one MinHash signature per article (uint32 x NUM_PERM)
    minhash_bands(band_key, article_rowid)     LSH: articles sharing a band key are compared
    duplicates(a, b, similarity)               pairs (a < b) whose estimated Jaccard passed the threshold

A duplicate *group* is a connected component of ``duplicates``. The pairs of an article are written
in the same transaction as the article, deleted with it, and a replaced article (a new rowid) is
compared again, so groups stay right under incremental indexing and deletes: a group that lost its
bridge member simply splits, because groups are computed from the pairs when read.

What makes a signature (word shingles, datasketch) is the write path's business
(:mod:`thaigov_search.indexing.duplicates`); here is only how signatures are compared and stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import numpy as np

from thaigov_search.store import catalog

NUM_PERM = 64
"""MinHash permutations per signature; the estimated Jaccard's standard error is ~0.05 at J = 0.8."""
BANDS = 16
"""LSH bands of NUM_PERM / BANDS = 4 rows: a pair with J = 0.8 shares a band with probability
1 - (1 - 0.8^4)^16 > 0.9999, one with J = 0.3 with probability 0.12 (then rejected by the threshold)."""
ROWS = NUM_PERM // BANDS

SCHEMA = """
CREATE TABLE IF NOT EXISTS minhash (
    article_rowid INTEGER PRIMARY KEY REFERENCES articles(rowid) ON DELETE CASCADE,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS minhash_bands (
    band_key INTEGER NOT NULL,
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    PRIMARY KEY (band_key, article_rowid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS minhash_bands_article ON minhash_bands(article_rowid);
CREATE TABLE IF NOT EXISTS duplicates (
    a INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    b INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    similarity REAL NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS duplicates_b ON duplicates(b);
"""


def band_keys(signature: np.ndarray) -> list[int]:
    """One signed 63-bit key per band (the band number is mixed in, so equal rows of two bands differ)."""
    sig = np.asarray(signature, dtype=np.uint32).reshape(BANDS, ROWS).astype(np.uint64)
    keys = np.zeros(BANDS, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(ROWS):  # FNV-style mixing; deterministic across processes (unlike hash())
            keys = (keys ^ sig[:, column]) * np.uint64(1099511628211)
        keys = (keys ^ np.arange(BANDS, dtype=np.uint64)) * np.uint64(1099511628211)
    return [int(k >> np.uint64(1)) for k in keys]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two shingle sets: the share of equal MinHash values."""
    return float(np.mean(np.asarray(a) == np.asarray(b)))


def to_blob(signature: np.ndarray) -> bytes:
    return np.ascontiguousarray(signature, dtype=np.uint32).tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.uint32)


def ensure_tables(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def has_tables(conn: sqlite3.Connection) -> bool:
    """False for an index built before issue #14 and not written since (readers then see no duplicates)."""
    return catalog.has_table(conn, "duplicates")


def store_signature(conn: sqlite3.Connection, rowid: int, signature: np.ndarray, threshold: float) -> int:
    """Store one article's signature inside the caller's transaction, compare it with every stored
    article sharing a band key, record the pairs at or above ``threshold``; returns the pairs added."""
    keys = band_keys(signature)
    marks = ",".join("?" * len(keys))
    candidates = [r[0] for r in conn.execute(
        f"SELECT DISTINCT article_rowid FROM minhash_bands WHERE band_key IN ({marks}) AND article_rowid != ?",
        (*keys, rowid))]
    pairs = []
    for start in range(0, len(candidates), 500):
        part = candidates[start:start + 500]
        rows = conn.execute(f"SELECT article_rowid, signature FROM minhash WHERE article_rowid IN "
                            f"({','.join('?' * len(part))})", part).fetchall()
        for other, blob in rows:
            sim = similarity(signature, from_blob(blob))
            if sim >= threshold:
                pairs.append((min(rowid, other), max(rowid, other), sim))
    conn.execute("INSERT OR REPLACE INTO minhash (article_rowid, signature) VALUES (?, ?)", (rowid, to_blob(signature)))
    conn.executemany("INSERT OR IGNORE INTO minhash_bands (band_key, article_rowid) VALUES (?, ?)",
                     [(k, rowid) for k in keys])
    conn.executemany("INSERT OR REPLACE INTO duplicates (a, b, similarity) VALUES (?, ?, ?)", pairs)
    return len(pairs)


def forget(conn: sqlite3.Connection, rowid: int) -> None:
    """Drop an article's signature, band keys and pairs (inside the caller's transaction)."""
    conn.execute("DELETE FROM duplicates WHERE a = ? OR b = ?", (rowid, rowid))
    conn.execute("DELETE FROM minhash_bands WHERE article_rowid = ?", (rowid,))
    conn.execute("DELETE FROM minhash WHERE article_rowid = ?", (rowid,))


def unsigned_rowids(conn: sqlite3.Connection) -> list[int]:
    """Rowids of the articles without a signature (indexed before issue #14), ascending."""
    return [r[0] for r in conn.execute(
        "SELECT rowid FROM articles WHERE rowid NOT IN (SELECT article_rowid FROM minhash) ORDER BY rowid")]


def all_pairs(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    """Every duplicate pair (a, b) of live articles; empty on an index without the tables."""
    if not has_tables(conn):
        return []
    return conn.execute("SELECT a, b FROM duplicates").fetchall()


def groups(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Connected components of ``pairs``: member -> the smallest member of its group (members only)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
        parent.setdefault(a, a)
        parent.setdefault(b, b)
    return {member: find(member) for member in parent}


def ids_of(conn: sqlite3.Connection, rowids: Sequence[int]) -> list[str]:
    """Article ids of ``rowids`` in the given order (missing ones left out)."""
    if not rowids:
        return []
    marks = ",".join("?" * len(rowids))
    found = dict(conn.execute(f"SELECT rowid, id FROM articles WHERE rowid IN ({marks})", list(rowids)))
    return [found[r] for r in rowids if r in found]
