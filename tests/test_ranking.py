"""The default hybrid ranking on a small Thai-question case and a small English-question case.

Both use real iApp Wiki QA questions over the same 40 Thai Wikipedia paragraphs
(tests/fixtures/tiny-beir): Thai questions share words with their answers, English ones
share almost none, so these pin the two regimes the fusion must handle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from thaigov_search.cli.evaluation import evaluate, load_beir

TINY = Path(__file__).parent / "fixtures" / "tiny-beir"


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-ranking")


def ndcg_by_mode(queries: str, qrels: str, index_dir: Path, settings, embedder) -> dict[str, float]:
    data = load_beir(TINY / "corpus.jsonl", TINY / queries, TINY / qrels)
    results = evaluate(data, modes=("hybrid", "dense", "lexical"), settings=settings, index_dir=index_dir, embedder=embedder)
    return {r.mode: r.metrics["ndcg@10"] for r in results}


def test_hybrid_is_default_mode() -> None:
    import inspect

    from thaigov_search.search.searcher import Searcher

    assert inspect.signature(Searcher.search).parameters["mode"].default == "hybrid"


def test_thai_questions_hybrid_at_least_as_good_as_either_retriever(tiny_index: Path, settings, embedder) -> None:
    ndcg = ndcg_by_mode("queries.jsonl", "qrels.tsv", tiny_index, settings, embedder)
    assert ndcg["lexical"] > 0.7 and ndcg["dense"] > 0.7
    assert ndcg["hybrid"] >= max(ndcg["dense"], ndcg["lexical"]) - 1e-9, ndcg


def test_english_questions_over_thai_text_are_ranked_by_meaning(tiny_index: Path, settings, embedder) -> None:
    ndcg = ndcg_by_mode("queries-en.jsonl", "qrels-en.tsv", tiny_index, settings, embedder)
    assert ndcg["dense"] > ndcg["lexical"] + 0.2, ndcg  # words barely overlap across languages
    assert ndcg["hybrid"] >= ndcg["dense"] - 0.01, ndcg
