"""The index on disk: incremental, deletions, crash-safety, damage detection, and search over it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, SAMPLE
from thaigov_search.cli import main
from thaigov_search.core.filters import Filters
from thaigov_search.indexing.run import run_index
from thaigov_search.search.searcher import Searcher
from thaigov_search.store.manifest import Manifest
from thaigov_search.store.schema import IndexCorruptError, IndexNotFoundError, ModelMismatchError

DEMO = FIXTURES / "demo-sample.jsonl.gz"


# Real releases in the sample whose raw file is empty (a title prefix and a placeholder 1970 date only).
EMPTY_IN_SAMPLE = {"tg057482", "tg029956", "tg031773"}


def sample_ids() -> list[str]:
    return [json.loads(line)["id"] for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def db_counts(index_dir: Path) -> tuple[int, int, int]:
    with sqlite3.connect(index_dir / "index.sqlite") as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages),"
            " (SELECT count(DISTINCT article_rowid || ':' || position) FROM passages)"
        ).fetchone()


def test_sample_index_holds_every_article_with_passages_and_vectors(sample_index: Path, settings) -> None:
    articles, passages, distinct = db_counts(sample_index)
    assert articles == len(set(sample_ids()) - EMPTY_IN_SAMPLE)
    assert passages >= articles and distinct == passages
    stats = Searcher(sample_index, settings).stats()
    assert stats["articles"] == articles and stats["passages"] == passages
    assert stats["model"] == "thaigov-e5-small" and stats["dimension"] == 384  # the adapted default, by name
    manifest = Manifest.read(sample_index)
    assert manifest.snapshot and (sample_index / manifest.snapshot).exists()


def test_reindexing_the_same_input_embeds_nothing_and_says_so(writable_index: Path, settings, embedder) -> None:
    report = run_index([SAMPLE], writable_index, settings, progress=False, embedder=embedder)
    assert report.indexed == 0 and report.embedded_passages == 0
    assert report.unchanged == len(set(sample_ids()) - EMPTY_IN_SAMPLE)
    assert report.skipped == len(EMPTY_IN_SAMPLE)
    assert all(any(doc_id in w and "thaigov-sample.jsonl:" in w for w in report.warnings) for doc_id in EMPTY_IN_SAMPLE)
    assert "nothing to embed" in report.summary()


def test_changed_article_is_replaced_not_duplicated(writable_index: Path, settings, embedder, tmp_path: Path) -> None:
    before = db_counts(writable_index)
    changed = tmp_path / "changed.jsonl"
    changed.write_text(json.dumps({
        "id": "tg012535", "title": "งานสัมมนารัฐบาลดิจิทัล ฉบับแก้ไข", "body": "เนื้อหาข่าวที่แก้ไขใหม่ เรื่องการประชุมรัฐบาลอิเล็กทรอนิกส์",
        "date": "2018-08-29", "category": "ข่าวทำเนียบรัฐบาล",
    }, ensure_ascii=False) + "\n", encoding="utf-8")
    report = run_index([changed], writable_index, settings, progress=False, embedder=embedder)
    assert report.indexed == 1
    searcher = Searcher(writable_index, settings, embedder=embedder)
    article = searcher.get("tg012535")
    assert article is not None and article.title == "งานสัมมนารัฐบาลดิจิทัล ฉบับแก้ไข"
    after = db_counts(writable_index)
    assert after[0] == before[0] and after[1] == after[2]
    hits = searcher.search("เนื้อหาข่าวที่แก้ไขใหม่", k=5, mode="lexical").results
    assert hits and hits[0].id == "tg012535"


def test_delete_removes_the_article_from_every_retriever(writable_index: Path, settings, embedder) -> None:
    searcher = Searcher(writable_index, settings, embedder=embedder)
    query = "digital government seminar 2018"
    assert "tg012535" in [r.id for r in searcher.search(query, k=10, mode="dense").results]
    report = run_index([], writable_index, settings, delete_ids=["tg012535", "no-such-id"], progress=False, embedder=embedder)
    assert report.deleted == 1 and report.not_found_for_delete == ["no-such-id"]
    assert searcher.get("tg012535") is None  # the running searcher catches up without restart
    for mode in ("dense", "lexical", "hybrid"):
        assert "tg012535" not in [r.id for r in searcher.search(query, k=50, mode=mode).results]
    fresh = Searcher(writable_index, settings, embedder=embedder)
    assert fresh.get("tg012535") is None
    assert fresh.reader.index.ntotal == db_vector_count(writable_index)


def db_vector_count(index_dir: Path) -> int:
    with sqlite3.connect(index_dir / "index.sqlite") as conn:
        return conn.execute("SELECT count(*) FROM passages WHERE vector IS NOT NULL").fetchone()[0]


@pytest.mark.parametrize("query", ["digital government seminar 2018", "สัมมนา รัฐบาลดิจิทัล eGovernment Forum 2018"])
def test_english_and_thai_queries_find_the_egovernment_forum_release(sample_index: Path, settings, embedder, query: str) -> None:
    results = Searcher(sample_index, settings, embedder=embedder).search(query, k=3).results
    assert "tg012535" in [r.id for r in results]


def test_results_are_one_per_article_best_first_with_snippets(sample_index: Path, settings, embedder) -> None:
    response = Searcher(sample_index, settings, embedder=embedder).search("นายกรัฐมนตรี ประชุม", k=10)
    ids = [r.id for r in response.results]
    assert len(ids) == len(set(ids)) == 10
    scores = [r.score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    assert all(r.snippet for r in response.results)
    assert any("<mark>" in r.snippet for r in response.results)


def test_filters_restrict_dates_and_category(sample_index: Path, settings, embedder) -> None:
    searcher = Searcher(sample_index, settings, embedder=embedder)
    for mode in ("hybrid", "dense", "lexical"):
        dated = searcher.search("รัฐบาล", k=50, mode=mode, filters=Filters(date_from="2018-01-01", date_to="2018-12-31")).results
        assert dated and all(r.date and "2018-01-01" <= r.date <= "2018-12-31" for r in dated)
    category = searcher.categories()[0]["category"]
    in_category = searcher.search("รัฐบาล", k=50, filters=Filters(category=category)).results
    assert in_category and all(r.category == category for r in in_category)


def test_similar_articles_never_include_the_article_itself(sample_index: Path, settings, embedder) -> None:
    response = Searcher(sample_index, settings, embedder=embedder).similar("tg012535", k=5)
    assert response is not None and len(response.results) == 5
    assert "tg012535" not in [r.id for r in response.results]


def test_opening_an_index_with_another_model_fails_clearly(sample_index: Path, settings, tmp_path: Path) -> None:
    other = settings.model_copy(update={"model": "sentence-transformers/all-MiniLM-L6-v2"})
    with pytest.raises(ModelMismatchError, match="built with model 'thaigov-e5-small'"):
        run_index([SAMPLE], sample_index, other, progress=False)
    with pytest.raises(ModelMismatchError):
        Searcher(sample_index, other)


def test_an_index_built_before_the_adapted_default_keeps_its_model(writable_index: Path, settings) -> None:
    """Manifests written before thaigov-e5-small became the default say 'default' and mean e5-small:
    searching follows the index's model, and indexing into it with the new default refuses clearly
    instead of mixing two models' vectors."""
    import dataclasses

    manifest = Manifest.read(writable_index)
    dataclasses.replace(manifest, model="default").write(writable_index)
    searcher = Searcher(writable_index, settings)
    assert searcher.stats()["model"] == "e5-small"
    assert searcher.embedder.spec == "e5-small"
    with pytest.raises(ModelMismatchError, match="built with model 'e5-small'.*Use --model e5-small"):
        run_index([SAMPLE], writable_index, settings, progress=False)
    run_index([SAMPLE], writable_index, settings.model_copy(update={"model": "e5-small"}), progress=False)


def test_missing_index_and_damaged_files_fail_with_clear_messages(writable_index: Path, settings, tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="No index"):
        Searcher(tmp_path / "nowhere", settings)
    manifest = Manifest.read(writable_index)
    snapshot = writable_index / manifest.snapshot
    data = snapshot.read_bytes()
    snapshot.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match="damaged"):
        Searcher(writable_index, settings)
    snapshot.write_bytes(data)
    Searcher(writable_index, settings)  # restored: opens again

    db = writable_index / "index.sqlite"
    raw = bytearray(db.read_bytes())
    raw[4096:4096 * 3] = os.urandom(4096 * 2)  # clobber pages right after the header
    db.write_bytes(bytes(raw))
    with pytest.raises(IndexCorruptError):
        Searcher(writable_index, settings)

    (writable_index / "manifest.json").unlink()
    with pytest.raises(IndexCorruptError, match="missing"):
        Searcher(writable_index, settings)


def test_cli_get_stats_and_search_print_the_documented_json(sample_index: Path, capsys) -> None:
    assert main(["get", "--index-dir", str(sample_index), "tg012535", "--json"]) == 0
    article = json.loads(capsys.readouterr().out)
    assert set(article) == {"id", "title", "date", "category", "url", "language", "body", "duplicates", "twin"}
    assert article["date"] == "2018-08-29" or article["date"].startswith("2018")

    assert main(["stats", "--index-dir", str(sample_index), "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"articles", "passages", "model", "dimension", "built_at"}

    assert main(["search", "--index-dir", str(sample_index), "--json", "--k", "3", "eGovernment Forum 2018"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"query", "took_ms", "results", "suggested_filter", "facets", "did_you_mean"}
    assert out["suggested_filter"] == {"date_from": "2018-01-01", "date_to": "2018-12-31"}  # the query names 2018
    assert set(out["results"][0]) == {"id", "title", "date", "category", "url", "score", "snippet", "duplicates", "twin"}

    assert main(["similar", "--index-dir", str(sample_index), "tg012535", "--k", "3", "--json"]) == 0
    assert "tg012535" not in [r["id"] for r in json.loads(capsys.readouterr().out)["results"]]

    assert main(["get", "--index-dir", str(sample_index), "no-such-id", "--json"]) == 2
    assert "No article" in capsys.readouterr().err


def committed_generation(index_dir: Path) -> int:
    try:
        with sqlite3.connect(f"file:{index_dir / 'index.sqlite'}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_run_killed_with_sigkill_resumes_without_losing_or_duplicating(tmp_path: Path, settings, embedder) -> None:
    index_dir = tmp_path / "killed"
    env = {**os.environ, "THAIGOV_SEARCH_COMMIT_EVERY": "3"}
    cmd = [sys.executable, "-m", "thaigov_search.cli", "index", "--input", str(DEMO), "--index-dir", str(index_dir),
           "--limit", "40", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while committed_generation(index_dir) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    # The last good state is fully searchable.
    searcher = Searcher(index_dir, settings, embedder=embedder)
    committed = searcher.stats()["articles"]
    assert 0 < committed < 40
    assert searcher.search("รัฐบาล", k=5, mode="hybrid").results
    assert searcher.reader.index.ntotal == db_vector_count(index_dir)

    # The rerun finishes the job, skipping what was committed.
    report = run_index([DEMO], index_dir, settings, limit=40, progress=False, embedder=embedder)
    assert report.unchanged == committed and report.indexed == 40 - committed - report.skipped
    articles, passages, distinct = db_counts(index_dir)
    assert articles == 40 - report.skipped and passages == distinct
    searcher.reader.refresh()
    assert searcher.reader.index.ntotal == db_vector_count(index_dir)


def test_writing_to_a_truncated_database_fails_with_a_clear_message(writable_index: Path, capsys) -> None:
    db = writable_index / "index.sqlite"
    db.write_bytes(db.read_bytes()[:4096])
    assert main(["index", "--index-dir", str(writable_index), "--delete", "tg012535"]) == 2
    assert "is damaged" in capsys.readouterr().err


def test_small_api_writes_skip_the_snapshot_and_readers_replay_them(writable_index: Path, settings, embedder) -> None:
    """The HTTP write path does not rebuild the FAISS snapshot for a few articles; a new reader still
    sees them (replayed from the database), and a batch run writes the snapshot again."""
    from thaigov_search.core.article import Article
    from thaigov_search.indexing.pipeline import Indexer

    before = Manifest.read(writable_index)
    article = Article(id="api-write-1", title="กรมอุตุนิยมวิทยาเตือนพายุฤดูร้อนภาคอีสาน",
                      body="กรมอุตุนิยมวิทยาประกาศเตือนพายุฤดูร้อนบริเวณภาคตะวันออกเฉียงเหนือ ขอให้ประชาชนระวังอันตราย",
                      date="2024-04-20")
    writer = Indexer(writable_index, settings, embedder, eager_snapshots=False)
    try:
        writer.index_articles([article])
        assert Manifest.read(writable_index).snapshot_generation == before.snapshot_generation
        fresh = Searcher(writable_index, settings, embedder=embedder)
        assert fresh.search("พายุฤดูร้อนภาคอีสาน", mode="dense").results[0].id == "api-write-1"
    finally:
        writer.close()
    eager = Indexer(writable_index, settings, embedder)
    try:
        eager.delete(["api-write-1"])
    finally:
        eager.close()
    after = Manifest.read(writable_index)
    assert after.snapshot_generation == after.generation > before.snapshot_generation
