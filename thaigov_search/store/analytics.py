"""Search analytics on disk: one small SQLite file, apart from the index, bounded in size.

What is stored, and nothing else: the query text as searched (after the API's cleaning), the mode
and filters, how many results it had, how long it took, and when (server-local time). No address,
no header, no cookie, no session: a record cannot be tied to a person by anything but the words
typed, which is why ``analytics_raw_days`` keeps single records only for a while (30 days by default).

Two tables:

* ``searches``: one row per search, kept ``raw_days`` days and at most :data:`MAX_RAW_ROWS` rows
  (oldest dropped first): the detail (filters, latency) for a recent period.
* ``daily``: per day and normalised query (whitespace collapsed, case-folded), the number of
  searches, how many had no result, and their summed latency; kept ``days`` days (400 by default).
  Reports read this table, so they stay cheap however much traffic there was.

Every write is one transaction that updates both, so they agree. The file lives in the index
directory (or where ``THAIGOV_SEARCH_ANALYTICS_DB`` says) and never in the index database: a busy
analytics writer cannot delay an indexing commit, nor the other way round.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from thaigov_search.store.schema import connect

ANALYTICS_NAME = "analytics.sqlite"
MAX_RAW_ROWS = 500_000
"""Cap on single search records (about 150 bytes each: some 75 MB at most)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    day TEXT NOT NULL,
    query TEXT NOT NULL,
    mode TEXT NOT NULL,
    filters TEXT NOT NULL,
    results INTEGER NOT NULL,
    latency_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS searches_day ON searches(day);
CREATE TABLE IF NOT EXISTS daily (
    day TEXT NOT NULL,
    query TEXT NOT NULL,
    searches INTEGER NOT NULL,
    zero_results INTEGER NOT NULL,
    latency_ms_total REAL NOT NULL,
    PRIMARY KEY (day, query)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class SearchRecord:
    """One search, as recorded: what was asked and how it went, never who asked."""

    at: dt.datetime
    query: str
    mode: str
    results: int
    latency_ms: float
    filters: dict[str, str] = field(default_factory=dict)


def normalise(query: str) -> str:
    """The key queries are counted under: ``"  Digital   Government "`` and ``"digital government"`` are one."""
    return " ".join(query.split()).casefold()


def analytics_path(index_dir: Path, override: Path | None = None) -> Path:
    """Where an index's analytics live: the setting if given; beside a symlinked index directory
    (``current`` → ``current.analytics.sqlite``), so the history survives switching to a rebuilt
    index; otherwise inside the index directory."""
    if override is not None:
        return Path(override)
    index_dir = Path(index_dir)
    if index_dir.is_symlink():
        return index_dir.parent / f"{index_dir.name}.{ANALYTICS_NAME}"
    return index_dir / ANALYTICS_NAME


class AnalyticsStore:
    """Read and write access to one analytics file (one connection: use it from one thread)."""

    def __init__(self, path: Path, readonly: bool = False):
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise FileNotFoundError(f"no analytics recorded at {self.path}")
        self.conn = connect(self.path, readonly=readonly)
        if not readonly:
            self.conn.executescript(SCHEMA)

    def add(self, records: Sequence[SearchRecord]) -> None:
        """Store records, and count them per day, in one transaction."""
        if not records:
            return
        rows = [(r.at.isoformat(timespec="seconds"), r.at.date().isoformat(), r.query, r.mode,
                 json.dumps(r.filters, ensure_ascii=False, sort_keys=True), int(r.results), float(r.latency_ms))
                for r in records]
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(
                "INSERT INTO searches (at, day, query, mode, filters, results, latency_ms) VALUES (?,?,?,?,?,?,?)", rows)
            self.conn.executemany(
                "INSERT INTO daily (day, query, searches, zero_results, latency_ms_total) VALUES (?,?,1,?,?) "
                "ON CONFLICT (day, query) DO UPDATE SET searches = searches + 1, "
                "zero_results = zero_results + excluded.zero_results, "
                "latency_ms_total = latency_ms_total + excluded.latency_ms_total",
                [(day, normalise(query), int(results == 0), latency) for _, day, query, _, _, results, latency in rows])
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def prune(self, raw_days: int, days: int, today: dt.date | None = None, max_raw_rows: int = MAX_RAW_ROWS) -> int:
        """Drop single records older than ``raw_days`` (or beyond ``max_raw_rows``) and day counts older
        than ``days``; returns the rows removed."""
        today = today or dt.date.today()
        raw_cutoff = (today - dt.timedelta(days=raw_days - 1)).isoformat()
        day_cutoff = (today - dt.timedelta(days=days - 1)).isoformat()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            removed = self.conn.execute("DELETE FROM searches WHERE day < ?", (raw_cutoff,)).rowcount
            removed += self.conn.execute(
                "DELETE FROM searches WHERE id <= (SELECT id FROM searches ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (max_raw_rows,)).rowcount
            removed += self.conn.execute("DELETE FROM daily WHERE day < ?", (day_cutoff,)).rowcount
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return removed

    def report(self, since: dt.date | None = None, limit: int = 20) -> dict:
        """``{"top_queries": [{"query", "count"}], "zero_result_queries": [...], "searches": n}`` since a day."""
        day = since.isoformat() if since else ""
        try:
            self.conn.execute("BEGIN")
        except sqlite3.OperationalError:  # a read-only connection inside a transaction already
            pass
        try:
            total = self.conn.execute("SELECT coalesce(sum(searches), 0) FROM daily WHERE day >= ?", (day,)).fetchone()[0]
            top = self.conn.execute(
                "SELECT query, sum(searches) AS n FROM daily WHERE day >= ? GROUP BY query ORDER BY n DESC, query LIMIT ?",
                (day, limit)).fetchall()
            zero = self.conn.execute(
                "SELECT query, sum(zero_results) AS n FROM daily WHERE day >= ? GROUP BY query HAVING n > 0 "
                "ORDER BY n DESC, query LIMIT ?", (day, limit)).fetchall()
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
        return {"top_queries": [{"query": q, "count": int(n)} for q, n in top],
                "zero_result_queries": [{"query": q, "count": int(n)} for q, n in zero],
                "searches": int(total)}

    def recent(self, limit: int = 100) -> list[dict]:
        """The latest single records, newest first (for checks and the curious operator)."""
        rows = self.conn.execute(
            "SELECT at, query, mode, filters, results, latency_ms FROM searches ORDER BY id DESC LIMIT ?", (limit,))
        return [{"at": at, "query": q, "mode": m, "filters": json.loads(f), "results": n, "latency_ms": ms}
                for at, q, m, f, n, ms in rows]

    def close(self) -> None:
        self.conn.close()


def read_report(path: Path, since: str | None, limit: int) -> dict:
    """The report of one analytics file since an ISO day (``AnalyticsStore.report``); an empty one when
    nothing was recorded yet."""
    if not Path(path).exists():
        return {"top_queries": [], "zero_result_queries": [], "searches": 0}
    store = AnalyticsStore(path, readonly=True)
    try:
        return store.report(dt.date.fromisoformat(since) if since else None, limit)
    finally:
        store.close()
