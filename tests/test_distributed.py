"""`thaigov-search index --ray`: Ray workers parse, chunk and embed, the driver stays the one writer.

One local Ray cluster for the module (2 CPUs: two worker processes on this machine), started by the
test in its own temporary directory. Checked with the invariant checker of
scripts/kill_indexer_repeatedly.py (every article whole, once, with its content hash, passages,
vectors, FTS row; FAISS == database):

* the Ray run stores what the single-machine run stores (same passages, same vectors);
* a worker killed with SIGKILL mid-run is restarted, its batches are retried, and the index is
  complete, with nothing written twice;
* the driver (`thaigov-search index --ray ADDRESS`) killed with SIGKILL mid-run: a rerun resumes,
  skipping what was committed, and the index ends complete; Ray's logs stay out of its output;
* without Ray, `--ray` says how to install it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SAMPLE
from tests.test_reliability import script
from thaigov_search.cli import main
from thaigov_search.core.settings import Settings
from thaigov_search.indexing.pipeline import Indexer, IndexReport
from thaigov_search.indexing.run import run_index
from thaigov_search.indexing.sources import ReadStats, iter_records
from thaigov_search.store.schema import DB_NAME

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Ray cluster with 2 CPUs (so 2 one-CPU workers), shared by the module; its GCS address."""
    ray = pytest.importorskip("ray", reason="the Ray tests need the ray extra (pip install '.[ray]')")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             object_store_memory=128 * 1024 * 1024, _temp_dir=str(tmp_path_factory.mktemp("ray")))
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def kill_script():
    return script("kill_indexer_repeatedly")


def stored_passages(index_dir: Path) -> dict[tuple[str, int], tuple[str, bytes | None]]:
    """(article id, position) -> (passage text, vector blob) as stored."""
    conn = sqlite3.connect(f"file:{index_dir / DB_NAME}?mode=ro", uri=True)
    try:
        return {(i, pos): (text, vec) for i, pos, text, vec in conn.execute(
            "SELECT a.id, p.position, p.text, p.vector FROM passages p JOIN articles a ON a.rowid = p.article_rowid")}
    finally:
        conn.close()


def rewritten_rows(index_dir: Path) -> int:
    """Tombstones of a fresh index: each one is a passage that was written, then replaced or deleted."""
    conn = sqlite3.connect(f"file:{index_dir / DB_NAME}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM tombstones").fetchone()[0])
    finally:
        conn.close()


def assert_whole(index_dir: Path, settings: Settings, embedder, limit: int | None = None) -> None:
    """Every sample article (up to ``limit``) is stored once, whole, and FAISS matches the database."""
    ks = kill_script()
    articles = ks.load_articles(SAMPLE, limit=limit)
    expected = ks.expected_of(articles, embedder, settings)
    summary, problems = ks.index_problems(index_dir, expected, max_passages=settings.max_passages_per_article)
    assert problems == []
    assert summary["articles"] == len(expected)


@pytest.mark.slow
@pytest.mark.ray
def test_a_ray_run_stores_what_the_local_run_stores(
        ray_cluster: str, tmp_path: Path, settings: Settings, embedder) -> None:
    settings = settings.model_copy(update={"commit_every": 4, "max_passages_per_article": 1})
    local = run_index([SAMPLE], tmp_path / "local", settings, limit=20, progress=False, embedder=embedder)
    distributed = run_index([SAMPLE], tmp_path / "ray", settings, limit=20, progress=False, ray_address=ray_cluster)

    assert (distributed.read, distributed.indexed, distributed.unchanged) == (20, local.indexed, 0)
    assert distributed.embedded_passages == local.embedded_passages
    assert_whole(tmp_path / "ray", settings, embedder, limit=20)
    ours, theirs = stored_passages(tmp_path / "ray"), stored_passages(tmp_path / "local")
    assert {k: text for k, (text, _) in ours.items()} == {k: text for k, (text, _) in theirs.items()}
    for key, (_, blob) in theirs.items():
        if blob is None:
            assert ours[key][1] is None
        else:  # the same model on other processes and threads: equal up to float summation order
            np.testing.assert_allclose(np.frombuffer(ours[key][1], np.float32), np.frombuffer(blob, np.float32),
                                       atol=1e-4)

    # (that a rerun embeds nothing committed is the killed-driver test's rerun)


@pytest.mark.slow
@pytest.mark.ray
def test_a_killed_worker_is_restarted_its_batches_retried_and_nothing_is_lost_or_written_twice(
        ray_cluster: str, tmp_path: Path, settings: Settings, embedder) -> None:
    from thaigov_search.indexing.distributed import WorkerPool

    settings = settings.model_copy(update={"commit_every": 3, "max_passages_per_article": 1})
    pool = WorkerPool(settings, workers=2)
    victim = pool.workers[0].pid
    try:
        def records_killing_a_worker():
            for n, record in enumerate(iter_records([SAMPLE], ReadStats(), limit=24)):
                if n == 9:  # batches 1 and 3 went to worker 0: at least one is still queued or running there
                    os.kill(victim, signal.SIGKILL)
                yield record

        indexer = Indexer(tmp_path / "index", settings)
        try:
            report = pool.index(indexer, records_killing_a_worker(), IndexReport(), progress=False)
        finally:
            indexer.close()
        restarted = pool.info()[0].pid
    finally:
        pool.close()

    assert restarted != victim  # the worker really died and came back
    assert (report.read, report.indexed + report.skipped) == (24, 24)  # (one of them is empty)
    assert_whole(tmp_path / "index", settings, embedder, limit=24)
    assert rewritten_rows(tmp_path / "index") == 0  # no batch was committed twice


def committed_count(index_dir: Path) -> int:
    return len(kill_script().committed_ids(index_dir))


def run_driver(ray_address: str, index_dir: Path, **env: object) -> subprocess.Popen:
    child = kill_script().child_env(1, **env)
    child["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), child.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "thaigov_search.cli", "index", "--ray", ray_address, "--workers", "2",
         "--input", str(SAMPLE), "--index-dir", str(index_dir), "--max-passages", "1", "--json", "-q"],
        cwd=REPO, env=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.ray
def test_a_killed_driver_resumes_on_rerun_and_nothing_is_lost_or_duplicated(
        ray_cluster: str, tmp_path: Path, settings: Settings, embedder) -> None:
    index_dir = tmp_path / "index"
    driver = run_driver(ray_cluster, index_dir, commit_every=2, backend=settings.backend)
    deadline = time.monotonic() + 300
    while committed_count(index_dir) < 2 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate()
    committed = committed_count(index_dir)
    settings = settings.model_copy(update={"max_passages_per_article": 1})
    ks = kill_script()
    expected = ks.expected_of(ks.load_articles(SAMPLE), embedder, settings)
    assert 0 < committed < len(expected), f"the kill was meant to land mid-run; {committed} articles were committed"

    _, problems = ks.index_problems(index_dir, expected, max_passages=1)
    assert problems == []  # what was committed before the kill is whole

    rerun = run_driver(ray_cluster, index_dir, commit_every=2, backend=settings.backend)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    report = json.loads(out)  # stdout is the summary alone
    assert err.strip() == ""  # and no Ray log line reaches the console
    assert (report["unchanged"], report["indexed"]) == (committed, len(expected) - committed)
    assert_whole(index_dir, settings, embedder)


def test_index_ray_without_ray_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    code = main(["index", "--ray", "auto", "--input", str(SAMPLE), "--index-dir", str(tmp_path / "index")])
    assert code == 2
    assert "pip install 'thaigov-search[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()  # nothing was started or written


def test_workers_without_ray_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["index", "--workers", "2", "--input", str(SAMPLE), "--index-dir", str(tmp_path / "index")])
    assert code == 2
    assert "--ray" in capsys.readouterr().err
