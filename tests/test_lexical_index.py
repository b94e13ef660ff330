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
