"""BM25: query terms, and the two engines (SQLite FTS5 and in memory) behind one interface."""
