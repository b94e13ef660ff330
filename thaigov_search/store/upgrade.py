"""``thaigov-search upgrade``: an index of format 1 rewritten in place as format 2, without re-embedding.

Format 2 stores text once and compressed (store/schema.py): the body zlib-compressed, each passage
as a span of its body, the FTS5 table contentless with the terms compressed beside it. Rebuilding the
full corpus would embed for ~45 minutes; the upgrade only rewrites text (vectors are kept as they
are), then writes both snapshots. It holds the writer lock, runs in one transaction (a kill leaves
format 1 intact), and VACUUMs so the file actually shrinks.
"""

from __future__ import annotations

import logging
from pathlib import Path

from thaigov_search.core.models import recorded_model
from thaigov_search.store.fts5 import TERMS_SEPARATOR
from thaigov_search.store.manifest import Manifest
from thaigov_search.store.schema import (
    DB_NAME,
    FORMAT_VERSION,
    IndexCorruptError,
    connect,
    pack_text,
    passage_span,
)
from thaigov_search.store.write_guard import writer_lock

logger = logging.getLogger(__name__)

PASSAGES_V2 = """
CREATE TABLE passages_v2 (
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
"""


def upgrade_index(index_dir: Path) -> bool:
    """Upgrade ``index_dir`` to the current format; False when it already is."""
    from thaigov_search.store.writer import IndexWriter

    index_dir = Path(index_dir)
    manifest = Manifest.read(index_dir)
    if manifest.format_version == FORMAT_VERSION:
        return False
    if manifest.format_version != 1:
        raise IndexCorruptError(f"{index_dir} has index format {manifest.format_version}; only format 1 can be "
                                f"upgraded to {FORMAT_VERSION}. Rebuild the index.")
    with writer_lock(index_dir, "thaigov-search upgrade"):
        conn = connect(index_dir / DB_NAME)
        try:
            conn.execute("PRAGMA foreign_keys = OFF")  # the passages table is replaced under its articles
            conn.execute("BEGIN IMMEDIATE")
            try:
                _rewrite(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            logger.warning("reclaiming the space (VACUUM)")
            conn.execute("VACUUM")
        finally:
            conn.close()
        Manifest(**{**manifest.__dict__, "format_version": FORMAT_VERSION}).write(index_dir)
        writer = IndexWriter(index_dir, recorded_model(manifest.model), manifest.dimension, manifest.passage_tokens)
        try:
            writer.write_snapshot(force=True)
        finally:
            writer.close()
    return True


def _rewrite(conn) -> None:
    bodies = dict(conn.execute("SELECT rowid, body FROM articles"))
    conn.execute(PASSAGES_V2)
    rows = []
    cursor_of: dict[int, int] = {}
    for pid, rowid, position, text, n_tokens, vector, gen in conn.execute(
            "SELECT pid, article_rowid, position, text, n_tokens, vector, gen FROM passages ORDER BY article_rowid, position"):
        span = passage_span(bodies.get(rowid, ""), text, cursor_of.get(rowid, 0))
        if span is not None:
            cursor_of[rowid] = span[0]
        kept, (start, end) = (None, span) if span is not None else (text, (None, None))
        rows.append((pid, rowid, position, kept, start, end, n_tokens, vector, gen))
    conn.executemany("INSERT INTO passages_v2 VALUES (?,?,?,?,?,?,?,?,?)", rows)
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'passages'").fetchone()
    conn.execute("DROP TABLE passages")
    conn.execute("ALTER TABLE passages_v2 RENAME TO passages")
    if seq is not None:  # pids are never reused, even those of deleted passages
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'passages'")
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('passages', ?)", (seq[0],))
    conn.execute("CREATE INDEX passages_article ON passages(article_rowid)")
    conn.execute("CREATE INDEX passages_gen ON passages(gen)")
    conn.executemany("UPDATE articles SET body = ? WHERE rowid = ?",
                     ((pack_text(body), rowid) for rowid, body in bodies.items()))
    terms = conn.execute("SELECT rowid, title, body FROM lexical ORDER BY rowid").fetchall()
    conn.execute("DROP TABLE lexical_vocab")
    conn.execute("DROP TABLE lexical")
    conn.execute("CREATE VIRTUAL TABLE lexical USING fts5(title, body, tokenize = 'ascii', content = '')")
    conn.execute("CREATE TABLE IF NOT EXISTS lexical_terms (rowid INTEGER PRIMARY KEY, terms BLOB NOT NULL)")
    conn.executemany("INSERT INTO lexical (rowid, title, body) VALUES (?,?,?)", terms)
    conn.executemany("INSERT INTO lexical_terms (rowid, terms) VALUES (?,?)",
                     ((rowid, pack_text(title + TERMS_SEPARATOR + body)) for rowid, title, body in terms))
    conn.execute("CREATE VIRTUAL TABLE lexical_vocab USING fts5vocab(lexical, 'row')")
