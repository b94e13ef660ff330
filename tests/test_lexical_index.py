"""The in-memory BM25 index: FTS5's own scores, and it follows writes made after it was loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from thaigov_search.core.article import Article
from thaigov_search.core.filters import Filters
from thaigov_search.core.settings import Settings
from thaigov_search.indexing.pipeline import Indexer
from thaigov_search.search.lexical.fts5 import Fts5Engine
from thaigov_search.search.lexical.memory import MemoryEngine
from thaigov_search.search.lexical.terms import query_terms
from thaigov_search.search.searcher import Searcher
from thaigov_search.store.queries import article_count

QUERIES = [
    "มติคณะรัฐมนตรี",
    "การประชุมคณะรัฐมนตรี นายกรัฐมนตรี",
    "เกษตรกร น้ำท่วม ช่วยเหลือ",
    "รัฐบาลดิจิทัล สัมมนา 2561",
    "digital government seminar",
    "ราคายางพารา 2.5 บาท",
    "ไม่มีคำนี้ในดัชนีแน่นอน xyzzy",
]


@pytest.mark.parametrize("query", QUERIES)
def test_scores_and_order_equal_fts5_bm25(sample_index: Path, settings: Settings, embedder, query: str) -> None:
    searcher = Searcher(sample_index, settings, embedder=embedder)
    fts5, memory = Fts5Engine(), MemoryEngine(searcher.reader)
    with searcher.reader.snapshot() as conn:
        memory.prepare(conn)
        n_docs = article_count(conn)
        fts_terms = query_terms(query, n_docs, lambda ts: fts5.doc_freq(conn, ts))  # FTS5's vocabulary table
        mem_terms = query_terms(query, n_docs, lambda ts: memory.doc_freq(conn, ts))
        assert mem_terms.doc_freq == fts_terms.doc_freq
        expected = fts5.search(conn, fts_terms, 50, Filters())
        got = memory.search(conn, mem_terms, 50, Filters())
    assert [rowid for rowid, _ in got] == [rowid for rowid, _ in sorted(expected, key=lambda h: (-h[1], h[0]))]
    for (_, score), (_, reference) in zip(got, sorted(expected, key=lambda h: (-h[1], h[0])), strict=True):
        assert score == pytest.approx(reference, rel=1e-9)


def test_follows_articles_added_and_deleted_after_loading(writable_index: Path, settings: Settings, embedder) -> None:
    searcher = Searcher(writable_index, settings, embedder=embedder)
    query = "ปลาบึกแม่น้ำโขง"
    assert all(r.id != "fish-1" for r in searcher.search(query, mode="lexical").results)  # index loaded now

    article = Article(
        id="fish-1",
        title="กรมประมงปล่อยพันธุ์ปลาบึกคืนสู่แม่น้ำโขง",
        body="กรมประมงร่วมกับจังหวัดเชียงรายปล่อยพันธุ์ปลาบึกจำนวน 500 ตัว คืนสู่แม่น้ำโขง เพื่ออนุรักษ์พันธุ์ปลาน้ำจืด",
        date="2023-05-01",
        category="ด้านสังคม",
    )
    indexer = Indexer(writable_index, settings, embedder)
    try:
        indexer.index_articles([article])
        found = searcher.search(query, mode="lexical")
        assert found.results and found.results[0].id == "fish-1"
        assert searcher.search(query, mode="lexical", filters=Filters(category="ด้านสังคม")).results[0].id == "fish-1"
        assert all(r.id != "fish-1" for r in searcher.search(query, mode="lexical", filters=Filters(date_to="2020-01-01")).results)

        indexer.delete(["fish-1"])
        assert all(r.id != "fish-1" for r in searcher.search(query, mode="lexical").results)
    finally:
        indexer.close()


def test_idf_counts_in_the_engine_s_own_articles_so_deletions_cannot_break_it(
        writable_index: Path, settings: Settings, embedder) -> None:
    """N of the idf is the engine's own count: the in-memory index may hold articles the database no
    longer has (deleted since its snapshot) or rows a newer read transaction synced. With the database's
    count as N, a common word was in more articles than N and BM25's log((N - df + 0.5) / (df + 0.5))
    failed ("math domain error": 71 of 4,254 requests in scripts/reads_during_writes.py, 2026-12-03)."""
    import sqlite3

    from thaigov_search.search.lexical.terms import QueryTerms

    assert QueryTerms(("ข่าว",), {"ข่าว": 12}, 10).bm25_idf("ข่าว") == 1e-6  # defined even then
    searcher = Searcher(writable_index, settings, embedder=embedder)
    engine = searcher.lexical
    assert isinstance(engine, MemoryEngine)
    words = ["รัฐบาล", "การ", "และ", "ประเทศ", "นายกรัฐมนตรี"]
    with searcher.reader.snapshot() as conn:
        engine.prepare(conn)
        frequencies = engine.doc_freq(conn, words)
        loaded = engine.doc_count(conn)
    word = max(frequencies, key=frequencies.get)
    assert frequencies[word] >= 3, frequencies
    with sqlite3.connect(writable_index / "index.sqlite") as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM articles ORDER BY rowid")]
    indexer = Indexer(writable_index, settings, embedder)
    try:
        indexer.delete(ids[1:])  # committed, no new snapshot: the engine still holds the deleted articles
        for mode in ("lexical", "hybrid"):
            results = searcher.search(word, mode=mode).results
            assert {r.id for r in results} <= {ids[0]}, mode
        with searcher.reader.snapshot() as conn:  # N and the frequencies come from the same articles
            count = engine.doc_count(conn)
            assert count <= loaded and all(n <= count for n in engine.doc_freq(conn, words).values())
    finally:
        indexer.close()
