"""BM25: query terms, and two engines behind one interface (:class:`.engine.LexicalEngine`).

``memory`` (:mod:`.memory`) loads the stored terms once and scores in milliseconds (the service);
``fts5`` (:mod:`.fts5`) asks SQLite per query (no load time; the one-shot CLI and the reference).
:func:`make_lexical_engine` chooses one, once, when a searcher is built.
"""

from __future__ import annotations

from thaigov_search.search.lexical.engine import LexicalEngine
from thaigov_search.search.lexical.fts5 import Fts5Engine
from thaigov_search.search.lexical.memory import MemoryEngine
from thaigov_search.store.reader import IndexReader


def make_lexical_engine(name: str, reader: IndexReader) -> LexicalEngine:
    """The engine ``Settings.lexical_engine`` names, over ``reader``'s index."""
    if name == "memory":
        return MemoryEngine(reader)
    if name == "fts5":
        return Fts5Engine()
    raise ValueError(f"Unknown lexical engine '{name}': use 'memory' or 'fts5'.")
