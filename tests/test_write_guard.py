"""Failure modes of writing (issue #15): two writers on one index directory, a full disk or a
file-size limit in the middle of a batch or of a snapshot, and a kill -9 during a snapshot.

Every writer here is a real `thaigov-search index` process (or the real HTTP service) on a real
index directory; the busy ones run under :func:`noisy_neighbour` (every core kept busy), where
races and starvation show. Results are recorded in docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.noisy import noisy_neighbour
from tests.test_api import running
from tests.test_reliability import API_KEY, child_env, script
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher
from thaigov_search.store.write_guard import holder_of, writer_lock
from thaigov_search.store.writer import DB_NAME, Manifest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "thaigov-sample.jsonl"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def kir():
    return script("kill_indexer_repeatedly")


def index_cli(index_dir: Path, limit: int, *extra: str) -> list[str]:
    return [*kir().index_command(index_dir, limit, 1), "--json", *extra]


def start(cmd: list[str], log: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=child_env(commit_every=2), stdout=subprocess.PIPE,
                            stderr=open(log, "w"), text=True, **popen)


def expected(embedder, limit: int):
    return kir().expected_of(kir().load_articles(limit=limit), embedder, Settings(max_passages_per_article=1))


def whole(index_dir: Path, embedder, limit: int) -> dict:
    """The index holds exactly the first ``limit`` demo articles, each once, FAISS == database."""
    summary, problems = kir().index_problems(index_dir, expected(embedder, limit), max_passages=1)
    assert problems == [], problems
    assert summary["articles"] == len(expected(embedder, limit))
    assert summary["faiss_vectors"] == summary["vectors"]
    return summary


def wait_for_holder(index_dir: Path, pid: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while f"pid {pid} " not in holder_of(index_dir):
        assert proc.poll() is None, "the first run ended before it was seen holding the lock"
        assert time.monotonic() < deadline, "the first run never took the writer lock"
        time.sleep(0.05)


# ------------------------------------------------------------------------- two writers at once
@pytest.mark.slow
def test_a_second_index_run_waits_for_the_first_and_nothing_is_lost_or_duplicated(tmp_path: Path, embedder) -> None:
    """Two `thaigov-search index` runs over the same releases into one fresh directory, the second started
    while the first holds the index: the second says whom it waits for, then finds every article already
    indexed; both exit 0; each article is stored once with its vectors, FAISS == database. Busy neighbour."""
    index_dir = tmp_path / "index"
    with noisy_neighbour():
        first = start(index_cli(index_dir, 8), tmp_path / "first.log")
        wait_for_holder(index_dir, first.pid, first)
        second = start(index_cli(index_dir, 8), tmp_path / "second.log")
        out_first, _ = first.communicate(timeout=900)
        out_second, _ = second.communicate(timeout=900)
    log = (tmp_path / "second.log").read_text()
    assert (first.returncode, second.returncode) == (0, 0), log
    assert f"is being written by pid {first.pid} (thaigov-search index" in log
    assert "waiting for it to finish" in log
    a, b = json.loads(out_first), json.loads(out_second)
    assert a["indexed"] == 8 and b["indexed"] == 0 and b["unchanged"] == 8  # embedded once, not twice
    whole(index_dir, embedder, 8)


def test_index_no_wait_refuses_at_once_naming_the_holder(writable_index: Path) -> None:
    """`index --no-wait` while another writer holds the index: exit 75 at once, a message naming the holder's
    pid and what to do, nothing written."""
    before = (writable_index / DB_NAME).stat().st_mtime_ns, Manifest.read(writable_index)
    with writer_lock(writable_index, "a test holding the index"):
        proc = subprocess.run([*index_cli(writable_index, 4), "--no-wait"], cwd=ROOT, env=child_env(),
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 75, proc.stderr
    assert f"is being written by pid {os.getpid()} (a test holding the index" in proc.stderr
    assert "Wait for it to finish and run this again" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert ((writable_index / DB_NAME).stat().st_mtime_ns, Manifest.read(writable_index)) == before


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    """The lock is the kernel's (flock): a writer killed with SIGKILL releases it, the next one goes on at once."""
    index_dir = tmp_path / "index"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from thaigov_search.store.write_guard import writer_lock\n"
         "with writer_lock(sys.argv[1], 'doomed'):\n    print('held', flush=True); time.sleep(600)", str(index_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with writer_lock(index_dir, "next", wait=0):
        assert "next" in holder_of(index_dir)
    assert time.monotonic() - started < 1


@pytest.fixture()
def write_server(writable_index: Path, settings: Settings, embedder) -> Iterator[str]:
    app_settings = settings.model_copy(update={"api_key": API_KEY, "write_wait_s": 0.5, "max_passages_per_article": 1})
    with running(create_app(writable_index, app_settings, Searcher(writable_index, app_settings, embedder=embedder))) as base:
        yield base


DOC = {"id": "lock-test-1", "title": "ทดสอบการล็อกดัชนีระหว่างการเขียน",
       "body": "กระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคมจัดการประชุมเรื่องรัฐบาลดิจิทัล " * 5, "date": "2024-01-15"}


def test_http_writes_during_an_index_run_get_503_with_retry_after_and_change_nothing(writable_index: Path,
                                                                                    write_server: str) -> None:
    """POST and DELETE /documents while an `index` run holds the index: after `write_wait_s` a 503 with
    Retry-After and a reason naming the holder; nothing applied; once it is free the same requests succeed."""
    headers = {"X-API-Key": API_KEY}
    with httpx.Client(base_url=write_server, headers=headers, timeout=120) as client:
        existing = client.get("/search", params={"q": "รัฐบาล", "k": 1}).json()["results"][0]["id"]
        with writer_lock(writable_index, "thaigov-search index"):
            post = client.post("/documents", json=DOC)
            delete = client.delete(f"/documents/{existing}")
        for r in (post, delete):
            assert r.status_code == 503, r.text
            assert int(r.headers["retry-after"]) > 0
            assert f"is being written by pid {os.getpid()} (thaigov-search index" in r.json()["detail"]
            assert "not applied" in r.json()["detail"]
        assert client.get(f"/documents/{DOC['id']}").status_code == 404
        assert client.get(f"/documents/{existing}").status_code == 200
        assert client.post("/documents", json=DOC).json()["indexed"] == 1
        assert client.delete(f"/documents/{existing}").status_code == 200
        assert client.get(f"/documents/{existing}").status_code == 404


@pytest.mark.slow
def test_serve_and_an_index_run_write_one_after_the_other_with_nothing_lost(tmp_path: Path, sample_index: Path,
                                                                            settings: Settings, embedder) -> None:
    """A real `index` process adds 6 releases while a client POSTs 3 others to the running service (retrying
    on 503 + Retry-After) and 4 clients search: every article ends up stored exactly once, no search fails.
    Busy neighbour."""
    index_dir = tmp_path / "index"
    shutil.copytree(sample_index, index_dir)
    base_ids = {r[0] for r in sqlite3.connect(index_dir / DB_NAME).execute("SELECT id FROM articles")}
    posted = [{"id": f"serve-and-index-{i}", "title": f"ข่าวทดสอบการเขียนพร้อมกัน {i}",
               "body": f"คณะรัฐมนตรีอนุมัติมาตรการช่วยเหลือเกษตรกร ครั้งที่ {i} " * 8} for i in range(3)]
    app_settings = settings.model_copy(update={"api_key": API_KEY, "write_wait_s": 1.0, "max_passages_per_article": 1})
    statuses: list[int] = []
    search_statuses: list[int] = []
    stop = threading.Event()

    def search_loop(base: str) -> None:
        with httpx.Client(base_url=base, timeout=120) as c:
            while not stop.is_set():
                search_statuses.append(c.get("/search", params={"q": "รัฐบาล เกษตรกร", "k": 5}).status_code)

    with noisy_neighbour(), running(create_app(index_dir, app_settings, Searcher(index_dir, app_settings,
                                                                               embedder=embedder))) as base:
        searchers = [threading.Thread(target=search_loop, args=(base,), daemon=True) for _ in range(4)]
        for t in searchers:
            t.start()
        run = start(index_cli(index_dir, 6), tmp_path / "index.log")
        wait_for_holder(index_dir, run.pid, run)
        with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=300) as client:
            for doc in posted:
                while True:
                    r = client.post("/documents", json=doc)
                    statuses.append(r.status_code)
                    if r.status_code != 503:
                        break
                    assert int(r.headers["retry-after"]) > 0
                    time.sleep(0.5)  # a test client; a real one sleeps Retry-After seconds
                assert r.status_code == 200 and r.json()["indexed"] == 1, r.text
        out, _ = run.communicate(timeout=900)
        stop.set()
        for t in searchers:
            t.join(timeout=120)
    assert run.returncode == 0, (tmp_path / "index.log").read_text()
    assert 503 in statuses  # the index run held the index while the first POST came
    assert search_statuses and set(search_statuses) == {200}
    demo = {a.id for a in kir().load_articles(limit=6)}
    summary, problems = kir().index_problems(index_dir, max_passages=1)
    # The copied sample index embeds every passage; only the articles written here embed just the lead.
    problems = [p for p in problems if not any(p.startswith(f"{b}: vectors on passages") for b in base_ids)]
    assert problems == [], problems
    stored = {r[0] for r in sqlite3.connect(index_dir / DB_NAME).execute("SELECT id FROM articles")}
    assert stored == base_ids | demo | {d["id"] for d in posted}
    assert summary["articles"] == len(stored)


# ------------------------------------------------------------------------- full disk, ulimit -f
def file_size_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def searchable(index_dir: Path, embedder) -> tuple[int, list[str]]:
    searcher = Searcher(index_dir, Settings(max_passages_per_article=1), embedder=embedder)
    try:
        return searcher.stats()["articles"], [r.id for r in searcher.search("รัฐบาล การประชุม", k=5).results]
    finally:
        with contextlib.suppress(Exception):
            kir().close_reader(searcher.reader)


def assert_clear_out_of_space(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 74, (proc.returncode, proc.stderr[-3000:])  # not a SIGXFSZ core dump (-25)
    assert "the disk is full or a file-size limit (ulimit -f) was reached" in proc.stderr
    assert "run the same command again: it resumes" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_file_size_limit_mid_batch_fails_clearly_and_the_next_run_resumes(tmp_path: Path, embedder) -> None:
    """`ulimit -f` reached while a batch is committed (the WAL may not grow): exit 74 with a message saying
    what to do, no core dump; the index still opens and answers as before the run; a rerun without the
    limit completes with every article once."""
    index_dir = tmp_path / "index"
    first = subprocess.run(index_cli(index_dir, 4), cwd=ROOT, env=child_env(commit_every=2), capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    before = searchable(index_dir, embedder)
    biggest = max(p.stat().st_size for p in index_dir.iterdir())
    limited = subprocess.run(index_cli(index_dir, 30), cwd=ROOT, env=child_env(commit_every=2), capture_output=True,
                             text=True, timeout=600, preexec_fn=file_size_limit(biggest + 48 * 1024))
    assert_clear_out_of_space(limited)
    assert "File too large" in limited.stderr or "disk I/O error" in limited.stderr
    articles, hits = searchable(index_dir, embedder)
    assert articles >= before[0] and hits  # the committed batches stayed, the index answers
    summary, problems = kir().index_problems(index_dir, max_passages=1, only_expected_ids=False)
    assert problems == [], problems
    rerun = subprocess.run(index_cli(index_dir, 30), cwd=ROOT, env=child_env(commit_every=2), capture_output=True,
                           text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["unchanged"] == articles  # resumed: what was committed is not redone
    whole(index_dir, embedder, 30)


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real, small file system (tmpfs) to fill up; needs root (CI runs as root), skipped otherwise."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` until ``leave`` bytes are free."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as fh:
        fh.truncate(0)
        fh.write(b"\0" * max(0, free - leave))
    return filler


@pytest.mark.slow
@pytest.mark.parametrize(("limit", "leave_kib", "phase"), [(6, 64, "batch"), (1, 200, "snapshot")],
                         ids=["mid-batch", "mid-snapshot"])
def test_a_full_disk_fails_clearly_keeps_the_index_and_the_next_run_resumes(small_disk: Path, sample_index: Path,
                                                                          embedder, limit: int, leave_kib: int,
                                                                          phase: str) -> None:
    """A real full disk (tmpfs) under a run adding releases to the sample index. With 64 KiB free the
    batches cannot all commit (SQLite: "database or disk is full"); with 200 KiB one release commits but
    the new FAISS snapshot (~225 KiB) does not fit (FAISS: "write error ... No space left on device").
    Either way: exit 74 and a clear message; the manifest still points at a whole snapshot and no
    partial snapshot file is left; the index opens and answers; with space again the same command
    completes, every article once, the snapshot current."""
    index_dir = small_disk / "index"
    shutil.copytree(sample_index, index_dir)
    before_manifest = Manifest.read(index_dir)
    before = searchable(index_dir, embedder)
    filler = fill(small_disk, leave_kib * 1024)
    proc = subprocess.run(index_cli(index_dir, limit), cwd=ROOT, env=child_env(commit_every=2), capture_output=True,
                          text=True, timeout=600)
    assert_clear_out_of_space(proc)
    if phase == "snapshot":
        assert "write error in" in proc.stderr and "No space left on device" in proc.stderr, proc.stderr[-2000:]
    else:
        assert "database or disk is full" in proc.stderr or "disk I/O error" in proc.stderr, proc.stderr[-2000:]
    assert Manifest.read(index_dir).snapshot == before_manifest.snapshot  # the good snapshot was never replaced
    assert not list(index_dir.glob(".vectors-*.tmp"))  # the partial snapshot file was removed
    articles, hits = searchable(index_dir, embedder)
    assert hits and articles >= before[0]
    if phase == "snapshot":
        assert articles == before[0] + 1  # committed before the snapshot failed: searchable (replayed)
    new = expected(embedder, limit)  # the added releases: a vector on the first passage (--max-passages 1)
    summary, problems = kir().index_problems(index_dir, new, max_passages=0, only_expected_ids=False)
    assert problems == [], problems
    filler.unlink()
    rerun = subprocess.run(index_cli(index_dir, limit), cwd=ROOT, env=child_env(commit_every=2), capture_output=True,
                           text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["unchanged"] == articles - before[0]
    summary, problems = kir().index_problems(index_dir, new, max_passages=0, only_expected_ids=False)
    assert problems == [], problems
    assert summary["articles"] == before[0] + limit
    assert Manifest.read(index_dir).snapshot_generation == summary["generation"]


# ------------------------------------------------------------------------- killed mid-snapshot
KEEP_SNAPSHOTTING = """
import sys
from thaigov_search.store.writer import IndexWriter, Manifest
d = sys.argv[1]
m = Manifest.read(__import__('pathlib').Path(d))
w = IndexWriter(d, m.model, m.dimension, m.passage_tokens)
print('ready', flush=True)
while True:
    w.delete([])          # a new generation ...
    w.write_snapshot()    # ... so every call writes a whole new snapshot
"""


def test_kill_9_while_the_snapshot_file_is_written_keeps_the_last_good_snapshot(writable_index: Path,
                                                                                 embedder) -> None:
    """SIGKILL (what the OOM killer sends) at the moment a `.vectors-*.tmp` snapshot is being written, 3 times:
    the manifest always points at a whole snapshot whose checksum matches, the index opens and searches, and
    the next write cleans the partial file up."""
    kills = 0
    with noisy_neighbour():
        while kills < 3:
            proc = subprocess.Popen([sys.executable, "-c", KEEP_SNAPSHOTTING, str(writable_index)], cwd=ROOT,
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + 60
            while not list(writable_index.glob(".vectors-*.tmp")) and time.monotonic() < deadline:
                time.sleep(0.0005)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            summary, problems = kir().index_problems(writable_index, only_expected_ids=False)
            assert problems == [], problems
            assert searchable(writable_index, embedder)[1]
    leftovers = [p.name for p in writable_index.glob(".vectors-*.tmp")]
    from thaigov_search.store.writer import IndexWriter

    m = Manifest.read(writable_index)
    writer = IndexWriter(writable_index, m.model, m.dimension, m.passage_tokens)
    writer.delete([])
    writer.write_snapshot()
    writer.close()
    assert not list(writable_index.glob(".vectors-*.tmp")), leftovers
    assert kir().index_problems(writable_index, only_expected_ids=False)[1] == []
