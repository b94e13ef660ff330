"""Headlines embedded on their own (issue #11): stored at index time, added to older indexes, mixed
into dense scores. Real releases (``twins_index`` of conftest: tests/fixtures/twins-sample.jsonl)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from thaigov_search.search.titles import mix_titles


def title_vector_count(index_dir: Path) -> tuple[int, int]:
    with sqlite3.connect(index_dir / "index.sqlite") as conn:  # checked from outside, on purpose
        return conn.execute("SELECT (SELECT count(*) FROM title_vectors),"
                            " (SELECT count(*) FROM articles WHERE title != '')").fetchone()


def test_every_titled_release_gets_its_headline_embedded_on_its_own(twins_index: Path, embedder) -> None:
    stored, titled = title_vector_count(twins_index)
    assert stored == titled == 9
    with sqlite3.connect(twins_index / "index.sqlite") as conn:
        blob, title = conn.execute("SELECT t.vector, a.title FROM title_vectors t JOIN articles a"
                                   " ON a.rowid = t.article_rowid WHERE a.id = 'tg036475'").fetchone()
    assert title.startswith("ครม. อนุมัติวงเงิน 150.69 ล้านบาท")
    stored_vector = np.frombuffer(blob, dtype=np.float32)
    assert float(stored_vector @ embedder.embed_passages([title])[0]) > 0.99


def test_an_index_from_before_title_vectors_gets_them_on_the_next_index_run(twins_index: Path, tmp_path: Path,
                                                                           lead_settings, embedder) -> None:
    from thaigov_search.indexing.run import run_index
    from thaigov_search.search.searcher import Searcher

    index_dir = tmp_path / "old-index"
    shutil.copytree(twins_index, index_dir)
    with sqlite3.connect(index_dir / "index.sqlite") as conn:  # the layout before title vectors
        conn.execute("DROP TABLE title_vectors")
    assert Searcher(index_dir, lead_settings, embedder=embedder).search("COVID-19 supplies for prisons", k=3).results
    report = run_index([], index_dir, lead_settings, progress=False, embedder=embedder)
    assert report.indexed == 0  # nothing re-embedded but the titles
    assert title_vector_count(index_dir) == (9, 9)


def test_deleting_a_release_deletes_its_title_vector(twins_index: Path, tmp_path: Path, lead_settings,
                                                    embedder) -> None:
    from thaigov_search.indexing.run import run_index

    index_dir = tmp_path / "index"
    shutil.copytree(twins_index, index_dir)
    run_index([], index_dir, lead_settings, delete_ids=["tg036475"], progress=False, embedder=embedder)
    assert title_vector_count(index_dir) == (8, 8)


def test_hybrid_fuses_dense_scores_with_the_titles_cosine_mixed_in_and_dense_mode_keeps_passages(
        twins_index: Path, lead_settings, embedder) -> None:
    from thaigov_search.search.searcher import Searcher

    query = "Cabinet approves 150.69 million Baht to procure COVID-19 supplies for correctional facilities"
    pools = {}
    for weight in (0.0, 0.2):
        searcher = Searcher(twins_index, lead_settings.model_copy(update={"title_weight": weight}), embedder=embedder)
        with searcher.reader.snapshot() as conn:
            pools[weight] = searcher.candidates(conn, query, lexical=False)
    assert pools[0.0].titled is None
    assert pools[0.2].dense == pools[0.0].dense  # dense mode: the passage retriever as it is
    titled = pools[0.2].titled
    assert titled is not None and set(titled) == set(pools[0.0].dense)
    assert any(abs(titled[r] - pools[0.0].dense[r]) > 1e-4 for r in titled)


def test_mix_titles_weighs_the_title_cosine_and_leaves_untitled_articles_alone() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    titles = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)  # rowid 1: orthogonal title, rowid 3: the query
    mixed = mix_titles({1: 0.8, 2: 0.5, 3: 0.4}, [1, 3], titles, query, 0.25)
    assert mixed == pytest.approx({1: 0.6, 2: 0.5, 3: 0.55})
    assert mix_titles({1: 0.8}, [1], titles[:1], query, 0.0) == {1: 0.8}
