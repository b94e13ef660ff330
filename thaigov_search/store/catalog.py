"""Which tables an index database holds: tables added after an index was built (near-duplicates,
twins, title vectors) are missing from it until a writer opens it, and a reader, which opens it
read-only, treats a missing one as empty."""

from __future__ import annotations

import sqlite3


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None
