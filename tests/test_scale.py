"""Issue #13 on one machine: snapshots that open without parsing (memory-mapped BM25 postings and
FAISS vectors) stay exactly consistent with the database through incremental writes, deletes and
``kill -9``; ``serve --workers N`` answers the same as one process; the shipped defaults are the
fast path (onnx-int8, lead passage only)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from tests.conftest import FIXTURES, OLD_DEFAULTS, SAMPLE
from thaigov_search.core.article import Article
from thaigov_search.core.cpu import available_cores, quota_cores
from thaigov_search.core.filters import Filters
from thaigov_search.core.settings import Settings
from thaigov_search.core.title_phrases import title_phrases
from thaigov_search.indexing.chunking import chunk_article
from thaigov_search.indexing.pipeline import Indexer
from thaigov_search.indexing.run import run_index
from thaigov_search.search.lexical.fts5 import Fts5Engine
from thaigov_search.search.lexical.memory import MemoryEngine
from thaigov_search.search.lexical.terms import query_terms
from thaigov_search.search.searcher import Searcher
from thaigov_search.search.suggest import Suggestions
from thaigov_search.store.fts5 import lexical_rows
from thaigov_search.store.manifest import Manifest
from thaigov_search.store.postings import build_postings, open_postings
from thaigov_search.store.queries import all_titles, article_count, article_passages
from thaigov_search.store.suggestions import open_suggestions

DEMO = FIXTURES / "demo-sample.jsonl.gz"
QUERIES = ["มติคณะรัฐมนตรี", "เกษตรกร น้ำท่วม ช่วยเหลือ", "รัฐบาลดิจิทัล สัมมนา 2561", "digital government seminar",
           "ปลาบึกแม่น้ำโขง"]
FISH = Article(id="fish-1", title="กรมประมงปล่อยพันธุ์ปลาบึกคืนสู่แม่น้ำโขง",
               body="กรมประมงร่วมกับจังหวัดเชียงรายปล่อยพันธุ์ปลาบึกจำนวน 500 ตัว คืนสู่แม่น้ำโขง เพื่ออนุรักษ์พันธุ์ปลาน้ำจืด",
               date="2023-05-01", category="ด้านสังคม")


def db_vector_pids(index_dir: Path) -> set[int]:
    with sqlite3.connect(index_dir / "index.sqlite") as conn:
        return {r[0] for r in conn.execute("SELECT pid FROM passages WHERE vector IS NOT NULL")}


def generation(index_dir: Path) -> int:
    try:
        with sqlite3.connect(f"file:{index_dir / 'index.sqlite'}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def assert_like_the_database(searcher: Searcher) -> None:
    """What the reader serves from its snapshots + replayed deltas equals the database: the same
    vector ids, and the in-memory BM25 scores equal FTS5's (its own reference) for every query."""
    reader = searcher.reader
    reader.refresh()
    assert reader.index.ids() == db_vector_pids(reader.index_dir)
    assert reader.index.ntotal == len(db_vector_pids(reader.index_dir))
    fts5, memory = Fts5Engine(), MemoryEngine(reader)
    with reader.snapshot() as conn:
        memory.prepare(conn)
        n_docs = article_count(conn)
        for query in QUERIES:
            expected_terms = query_terms(query, n_docs, lambda ts: fts5.doc_freq(conn, ts))
            got_terms = query_terms(query, n_docs, lambda ts: memory.doc_freq(conn, ts))
            expected = sorted(fts5.search(conn, expected_terms, 30, Filters()), key=lambda h: (-h[1], h[0]))
            got = memory.search(conn, got_terms, 30, Filters())
            assert [r for r, _ in got] == [r for r, _ in expected], query
            assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-9), query


def test_the_bm25_snapshot_holds_exactly_the_database_terms(sample_index: Path) -> None:
    manifest = Manifest.read(sample_index)
    assert manifest.lexical == f"bm25-{manifest.snapshot_generation}.bin"
    mapped = open_postings(sample_index / manifest.lexical)
    with sqlite3.connect(sample_index / "index.sqlite") as conn:
        counted = build_postings(lexical_rows(conn), sort_terms=True)
    terms = list(counted.vocab)
    assert len(mapped.vocab) == len(terms) and all(mapped.vocab.get(t) == j for j, t in enumerate(terms))
    assert mapped.vocab.get("ไม่มีคำนี้แน่นอน") is None
    for name in ("rowids", "indptr", "indices", "data", "lengths"):
        assert np.array_equal(getattr(mapped, name), getattr(counted, name)), name
    assert not mapped.rowids.flags.writeable  # a read-only mapping, shared through the page cache


def texts(answer) -> list[str]:
    return [s.text for s in answer.suggestions]


def test_the_suggestion_snapshot_holds_the_phrases_of_the_database_titles(sample_index: Path, settings, embedder) -> None:
    """The indexer writes the phrases once (suggest-<gen>.bin); a server maps them instead of building
    its own copy, and completes exactly as a build from the same titles does."""
    manifest = Manifest.read(sample_index)
    assert manifest.suggestions == f"suggest-{manifest.snapshot_generation}.bin"
    mapped = open_suggestions(sample_index / manifest.suggestions)
    with sqlite3.connect(sample_index / "index.sqlite") as conn:
        built_titles = all_titles(conn)
    built = title_phrases(built_titles)
    assert len(mapped) == len(built.keys) > 300
    assert [mapped.keys[i] for i in range(0, len(mapped), 7)] == built.keys[::7]
    assert [mapped.texts[i] for i in range(0, len(mapped), 7)] == built.texts[::7]
    assert np.array_equal(mapped.weights, built.weights) and not mapped.weights.flags.writeable
    searcher = Searcher(sample_index, settings, embedder=embedder)
    in_memory = Suggestions.build(built_titles)
    for typed in ("เหลื่", "รัฐบา", "ครม.", "digital", "256", "กระทรวงดิจิ", "ไม่มีคำนี้แน่นอน"):
        assert texts(searcher.suggest(typed, k=8)) == in_memory.complete(typed, 8), typed
    assert texts(searcher.suggest("รัฐบา"))  # answered at once: nothing built
    assert searcher._suggestions._table is not None


def test_snapshots_follow_incremental_writes_and_deletes(writable_index: Path, settings, embedder) -> None:
    reader_before = Searcher(writable_index, settings, embedder=embedder)  # maps the first snapshot
    assert_like_the_database(reader_before)
    first = Manifest.read(writable_index)
    indexer = Indexer(writable_index, settings, embedder)
    try:
        indexer.index_articles([FISH])  # a batch write: a new snapshot of both kinds
        second = Manifest.read(writable_index)
        assert second.lexical != first.lexical and second.snapshot_generation > first.snapshot_generation
        assert not (writable_index / first.lexical).exists() and (writable_index / second.lexical).exists()
        assert second.suggestions != first.suggestions and not (writable_index / first.suggestions).exists()
        # a server opened before picks up the new snapshot's phrases once the generation moves
        assert "ปลาบึก" in texts(reader_before.suggest("ปลาบึ"))
        assert "ปลาบึก" in texts(Searcher(writable_index, settings, embedder=embedder).suggest("ปลาบึ"))
        # the reader opened before still maps the old files (unlinked, still readable) and replays the write
        assert reader_before.search("ปลาบึกแม่น้ำโขง", mode="lexical").results[0].id == "fish-1"
        assert reader_before.search("ปลาบึกแม่น้ำโขง", mode="dense").results[0].id == "fish-1"
        assert_like_the_database(reader_before)
        fresh = Searcher(writable_index, settings, embedder=embedder)
        assert_like_the_database(fresh)

        indexer.delete(["fish-1", "tg012535"])
        for searcher in (reader_before, fresh, Searcher(writable_index, settings, embedder=embedder)):
            ids = {r.id for mode in ("lexical", "dense", "hybrid")
                   for r in searcher.search("ปลาบึกแม่น้ำโขง eGovernment Forum 2018", k=20, mode=mode).results}
            assert not ids & {"fish-1", "tg012535"}
            assert_like_the_database(searcher)
    finally:
        indexer.close()


@pytest.mark.slow
def test_snapshots_stay_consistent_after_kill_9_and_a_rerun(tmp_path: Path, settings, embedder) -> None:
    index_dir = tmp_path / "killed"
    run_index([DEMO], index_dir, settings, limit=10, progress=False, embedder=embedder)
    snapshot = Manifest.read(index_dir)
    env = {**os.environ, "THAIGOV_SEARCH_COMMIT_EVERY": "3"}
    cmd = [sys.executable, "-m", "thaigov_search.cli", "index", "--input", str(DEMO), "--index-dir", str(index_dir),
           "--limit", "40", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while generation(index_dir) < snapshot.generation + 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (index_dir / f".bm25-{generation(index_dir)}.bin.tmp").write_bytes(b"half a file")  # as a kill mid-write leaves

    # The manifest still names the first run's snapshots; readers map them and replay the rest.
    assert Manifest.read(index_dir).lexical == snapshot.lexical
    searcher = Searcher(index_dir, settings, embedder=embedder)
    assert generation(index_dir) > snapshot.snapshot_generation
    assert_like_the_database(searcher)

    run_index([DEMO], index_dir, settings, limit=40, progress=False, embedder=embedder)
    rerun = Manifest.read(index_dir)
    assert rerun.snapshot_generation == generation(index_dir) and rerun.lexical != snapshot.lexical
    assert sorted(p.name for p in index_dir.glob("*bm25*")) == [rerun.lexical]  # the old one and the torn one pruned
    assert sorted(p.name for p in index_dir.glob("*suggest*")) == [rerun.suggestions]
    assert_like_the_database(searcher)
    assert_like_the_database(Searcher(index_dir, settings, embedder=embedder))


def test_a_damaged_bm25_snapshot_is_refused_with_a_clear_message(writable_index: Path, settings, embedder) -> None:
    from thaigov_search.store.schema import IndexCorruptError

    path = writable_index / Manifest.read(writable_index).lexical
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(IndexCorruptError, match="bm25-.*damaged"):
        Searcher(writable_index, settings, embedder=embedder).search("รัฐบาล", mode="lexical")
    searcher = Searcher(writable_index, settings, embedder=embedder, verify="later")  # the service's fast open ...
    with pytest.raises(IndexCorruptError, match="bm25-.*damaged"):
        searcher.reader.verify_files()  # ... and its background check


def test_a_damaged_suggestion_snapshot_is_refused_by_the_check_and_never_served(writable_index: Path, settings,
                                                                                  embedder) -> None:
    from thaigov_search.store.schema import IndexCorruptError

    path = writable_index / Manifest.read(writable_index).suggestions
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(IndexCorruptError, match="suggest-.*damaged"):
        Searcher(writable_index, settings, embedder=embedder, verify="later").reader.verify_files()
    with pytest.raises(IndexCorruptError, match="suggest-.*damaged"):
        open_suggestions(path)


def test_cores_available_follow_the_cgroup_quota(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert quota_cores(cpu_max, (tmp_path / "none", tmp_path / "none")) == 1.5
    cpu_max.write_text("max 100000\n")
    assert quota_cores(cpu_max, (tmp_path / "none", tmp_path / "none")) is None
    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))


def test_the_default_index_run_is_onnx_int8_with_the_lead_passage_only(tmp_path: Path, embedder) -> None:
    """`thaigov-search index` with no tuning flags or settings: one vector per article, the int8 model's."""
    from thaigov_search.embedding.embedder import Embedder

    env = {k: v for k, v in os.environ.items() if k not in OLD_DEFAULTS}
    index_dir = tmp_path / "defaults"
    done = subprocess.run([sys.executable, "-m", "thaigov_search.cli", "index", "--input", str(SAMPLE), "--index-dir",
                           str(index_dir), "--limit", "8", "--quiet"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(index_dir / "index.sqlite") as conn:
        articles, passages, vectors = conn.execute(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages),"
            " (SELECT count(*) FROM passages WHERE vector IS NOT NULL)").fetchone()
        texts = {pid: (position, doc_id) for _, doc_id, _, pid, position, _, has in article_passages(conn) if has}
        leads = [(texts[pid][1], blob) for pid, blob in conn.execute(
            "SELECT pid, vector FROM passages WHERE vector IS NOT NULL ORDER BY pid")]
    assert vectors == articles and passages > articles
    assert all(position == 0 for position, _ in texts.values())
    int8 = Embedder("default", Path(env.get("THAIGOV_SEARCH_HOME", Path.home() / ".cache" / "thaigov-search")),
                    backend="onnx-int8")
    stored = np.stack([np.frombuffer(blob, dtype=np.float32) for _, blob in leads])
    reader = Searcher(index_dir, Settings(backend="onnx-int8", analytics=False), embedder=int8)
    # what the indexer embedded: the lead passage with its title context (indexing/chunking.py)
    seen = [chunk_article(reader.get(doc_id), int8.count_tokens, max_tokens=256, max_passages=1)[0].embed_text
            for doc_id, _ in leads]
    # int8 activations are quantised per batch, so a vector depends a little on its batch companions:
    # the stored vectors are the int8 model's (cosine ~0.999), clearly closer than torch's (the suite's fixture)
    as_int8 = (stored * int8.embed_passages(seen, batch_size=4)).sum(axis=1)
    as_torch = (stored * embedder.embed_passages(seen, batch_size=4)).sum(axis=1)
    assert as_int8.min() > 0.998 and (as_int8 > as_torch).all(), (as_int8, as_torch)


# ------------------------------------------------------------------------------------------ workers
def serve(index_dir: Path, workers: int, port: int) -> subprocess.Popen:
    env = {**os.environ, "THAIGOV_SEARCH_ANALYTICS": "false"}
    cmd = [sys.executable, "-m", "thaigov_search.cli", "serve", "--index-dir", str(index_dir), "--port", str(port),
           "--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def wait_ready(base: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} not ready after {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_two_workers_serve_the_same_answers_as_one_process(sample_index: Path, tmp_path: Path, settings, embedder) -> None:
    from thaigov_search.cli.load import free_port

    index_dir = tmp_path / "served"
    shutil.copytree(sample_index, index_dir)
    expected = {q: Searcher(index_dir, settings, embedder=embedder).search(q, k=10).model_dump()["results"] for q in QUERIES}
    assert all(expected.values())
    port = free_port()
    proc = serve(index_dir, 2, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len([w for w in workers if "python" in w.name().lower()]) >= 2
        seen_workers = set()
        for _ in range(3):
            for query in QUERIES:  # new connections: the kernel spreads them over the workers
                with httpx.Client() as client:
                    r = client.get(base + "/search", params={"q": query, "k": 10})
                assert r.status_code == 200, r.text
                got = r.json()["results"]
                assert [x["id"] for x in got] == [x["id"] for x in expected[query]], query
                assert [x["score"] for x in got] == pytest.approx([x["score"] for x in expected[query]], abs=1e-5)
        # every worker maps the same snapshot files (shared page cache), none reads them into its heap
        for worker in workers:
            try:
                mapped = {Path(m.path).name for m in worker.memory_maps()}
            except psutil.Error:
                continue
            if "index.sqlite" in mapped or any(n.startswith("bm25-") for n in mapped):
                seen_workers.add(worker.pid)
                assert Manifest.read(index_dir).lexical in mapped and Manifest.read(index_dir).snapshot in mapped
        assert len(seen_workers) >= 2
    finally:
        stop(proc)


# ------------------------------------------------------------------------------------------ format 2
def test_a_format_1_index_is_upgraded_in_place_without_re_embedding(tmp_path: Path) -> None:
    """tests/fixtures/index-format1: 8 sample releases indexed by main at 496fb22 (format 1, onnx-int8, lead
    passage). Refused with the command to run; `upgrade` keeps every vector and answers exactly as the
    same releases indexed afresh in format 2 (same backend, so the same vectors)."""
    from thaigov_search.cli import main
    from thaigov_search.embedding.embedder import Embedder
    from thaigov_search.store.schema import IndexCorruptError

    # the fixture's manifest says "default": built before the adapted default, it means e5-small
    int8 = Settings(model="e5-small", backend="onnx-int8", max_passages_per_article=1, analytics=False)
    old = tmp_path / "old"
    shutil.copytree(FIXTURES / "index-format1", old)
    size_before = (old / "index.sqlite").stat().st_size
    with sqlite3.connect(old / "index.sqlite") as conn:
        vectors_before = dict(conn.execute("SELECT pid, vector FROM passages WHERE vector IS NOT NULL"))
        texts_before = conn.execute("SELECT a.id, p.position, p.text FROM passages p JOIN articles a"
                                    " ON a.rowid = p.article_rowid ORDER BY a.id, p.position").fetchall()
    with pytest.raises(IndexCorruptError, match="thaigov-search upgrade --index-dir"):
        Searcher(old, int8)

    assert main(["upgrade", "--index-dir", str(old)]) == 0
    assert Manifest.read(old).format_version == 2 and Manifest.read(old).lexical
    assert (old / "index.sqlite").stat().st_size <= size_before  # 8 releases fit in as many pages; 10k: 341 -> 97 MB
    with sqlite3.connect(old / "index.sqlite") as conn:
        assert dict(conn.execute("SELECT pid, vector FROM passages WHERE vector IS NOT NULL")) == vectors_before
        assert sorted((doc, pos, text) for _, doc, _, _, pos, text, _ in article_passages(conn)) == texts_before

    embedder = Embedder("e5-small", int8.home, backend="onnx-int8")
    ids = [doc for doc, position, _ in texts_before if position == 0]
    fresh = tmp_path / "fresh"
    run_index([SAMPLE], fresh, int8, limit=len(ids), progress=False, embedder=embedder)
    upgraded, rebuilt = Searcher(old, int8, embedder=embedder), Searcher(fresh, int8, embedder=embedder)
    assert_like_the_database(upgraded)
    for doc_id in ids:
        assert upgraded.get(doc_id) == rebuilt.get(doc_id)
    # dense answers come from the vectors the upgrade kept. Those were embedded on the machine that made
    # the fixture: onnx-int8 on another CPU differs in the third decimal from a fresh embedding here
    # (AMD EPYC vs Intel Xeon: 0.004), so they are checked against the kept vectors themselves.
    with sqlite3.connect(old / "index.sqlite") as conn:
        owners = conn.execute("SELECT p.pid, a.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid"
                              " WHERE p.vector IS NOT NULL ORDER BY p.pid").fetchall()
    kept = np.stack([np.frombuffer(vectors_before[pid], dtype=np.float32) for pid, _ in owners])
    for query in QUERIES:
        lexical_a, lexical_b = (s.search(query, k=5, mode="lexical").results for s in (upgraded, rebuilt))
        assert [(r.id, r.snippet, round(r.score, 5)) for r in lexical_a] == [
            (r.id, r.snippet, round(r.score, 5)) for r in lexical_b], query
        cosines = kept @ embedder.embed_queries([query])[0]
        best: dict[str, float] = {}
        for (_, doc_id), cosine in zip(owners, cosines.tolist(), strict=True):
            best[doc_id] = max(best.get(doc_id, -1.0), cosine)
        expected = sorted(best.items(), key=lambda kv: -kv[1])[:5]
        dense = upgraded.search(query, k=5, mode="dense").results
        assert [r.id for r in dense] == [doc for doc, _ in expected], query
        assert [r.score for r in dense] == pytest.approx([c for _, c in expected], abs=1e-5), query
        found = {r.id for m in ("dense", "lexical") for r in upgraded.search(query, k=100, mode=m).results}
        hybrid = upgraded.search(query, k=5, mode="hybrid").results
        assert hybrid and {r.id for r in hybrid} <= found, query


def test_text_is_stored_once(writable_index: Path, settings, embedder) -> None:
    """Format 2: a passage that is a span of its body stores no text of its own; bodies and the FTS5
    terms are stored compressed, and reading them back gives the articles as indexed."""
    with sqlite3.connect(writable_index / "index.sqlite") as conn:
        spans, own = conn.execute("SELECT sum(text IS NULL), sum(text IS NOT NULL) FROM passages").fetchone()
        body_type = conn.execute("SELECT DISTINCT typeof(body) FROM articles").fetchall()
        content = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'lexical_content'").fetchone()[0]
    # most passages are spans (10k subset: all but 0.6 %; the sample's releases: 116 of 145)
    assert spans > own and body_type == [("blob",)] and content == 0
    searcher = Searcher(writable_index, settings, embedder=embedder)
    article = searcher.get("tg012535")
    assert article is not None and "eGovernment Forum 2018" in article.body
    assert any("eGovernment" in r.snippet for r in searcher.search("eGovernment Forum 2018", k=3).results)


def test_warm_up_leaves_the_spelling_vocabulary_to_the_background(sample_index: Path, settings, embedder) -> None:
    """`serve` is ready after warm_up: the model, BM25 and a dense query, but not the spelling vocabulary
    and its romanization (half of the start-up at the full corpus); prepare_suggestions loads them after."""
    searcher = Searcher(sample_index, settings, embedder=embedder)
    searcher.warm_up(dense_query=True)
    assert searcher._speller._generation is None and searcher._speller._romanized is None
    searcher.prepare_suggestions()
    deadline = time.time() + 120
    while searcher._speller._romanized is None and time.time() < deadline:
        time.sleep(0.1)
    assert searcher._speller._generation == searcher.reader.generation and searcher._speller._romanized is not None


def test_an_index_without_a_suggestion_file_builds_the_phrases_in_memory_until_its_next_snapshot(
        writable_index: Path, settings, embedder) -> None:
    """An index written before suggest-<gen>.bin existed still completes (built from its titles), and
    the next index run writes the file, which the same server then maps."""
    import dataclasses

    manifest = Manifest.read(writable_index)
    (writable_index / manifest.suggestions).unlink()
    dataclasses.replace(manifest, suggestions=None, suggestions_sha256=None).write(writable_index)
    searcher = Searcher(writable_index, settings, embedder=embedder)
    with sqlite3.connect(writable_index / "index.sqlite") as conn:
        expected = Suggestions.build(all_titles(conn)).complete("รัฐบา", 8)
    assert expected and texts(searcher.suggest("รัฐบา", wait_s=120)) == expected
    assert searcher._suggestions._table is None  # built, not mapped
    indexer = Indexer(writable_index, settings, embedder)
    try:
        indexer.index_articles([FISH])
    finally:
        indexer.close()
    assert Manifest.read(writable_index).suggestions
    assert "ปลาบึก" in texts(searcher.suggest("ปลาบึ"))
    assert searcher._suggestions._table is not None
