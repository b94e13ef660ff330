"""Reliability: reads during writes, crashes, damaged files, access control, load.

CI-sized versions of the scripts under scripts/ (which run the same code longer; docs/reliability.md
has their results):

* ``kill_indexer_repeatedly.py``   -- kill -9 of `thaigov-search index` at random points (3 kills here);
* ``kill_server_during_writes.py`` -- kill -9 of `thaigov-search serve` during POST/DELETE (1 kill here);
* ``reads_during_writes.py``       -- searches while HTTP and command-line writers change the index.

The crash, reads-during-writes and load tests run under ``noisy_neighbour()`` (every core kept busy by
other processes, issue #15): races and lock starvation show under contention, not on a quiet machine.

Child processes and this process run torch with one thread: on a shared 2-core machine two spinning
OpenMP threads per process make every embedding 20-40x slower; nothing checked here depends on it.
"""

from __future__ import annotations

import hmac
import importlib
import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.noisy import noisy_neighbour
from tests.test_api import running
from thaigov_search.api.app import create_app
from thaigov_search.cli import main
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher
from thaigov_search.store.manifest import Manifest
from thaigov_search.store.schema import IndexCorruptError

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
API_KEY = "reliability-key-3c9e1d7a"


def QUIET(*args: object) -> None:  # noqa: N802 - used like a constant
    pass


def script(name: str):
    """A module of scripts/ (they import each other by name)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module(name)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def child_env(**settings: object) -> dict[str, str]:
    return script("kill_indexer_repeatedly").child_env(1, **settings)


# ------------------------------------------------------------------------------------ crashes
@pytest.mark.slow
def test_indexer_killed_at_random_points_loses_nothing(tmp_path: Path, embedder) -> None:
    """3 SIGKILLs of `thaigov-search index` (commit every 2 articles); after each the index opens, is whole
    and searches; the final run completes with exactly the expected articles, FAISS == database."""
    with noisy_neighbour():
        result = script("kill_indexer_repeatedly").run(
            tmp_path / "index", kills=3, limit=16, commit_every=2, max_passages=1, seed=20240315, max_delay=20.0,
            embedder=embedder, log=QUIET)
    assert result["problems"] == [], json.dumps(result["rounds_detail"], ensure_ascii=False, indent=1)
    assert result["kills"] == 3
    assert result["lost_committed_articles"] == 0
    final = result["final"]
    assert final["articles"] == result["expected_articles"] > 10
    assert final["faiss_vectors"] == final["vectors"] == final["articles"]  # --max-passages 1
    assert final["snapshot_generation"] == final["generation"]
    assert not [f for f in result["final_leftover_files"] if f.startswith(".vectors-")]


@pytest.mark.slow
def test_server_killed_during_writes_keeps_every_acknowledged_write(writable_index: Path, embedder) -> None:
    """SIGKILL of `thaigov-search -v serve` while a client POSTs/DELETEs: after the restart every write answered
    200 is there (or gone, for deletes), the one in flight is all-or-nothing, nothing is duplicated, and the
    debug-level server log holds neither the API key nor the wrong key that was tried."""
    with noisy_neighbour():
        result = script("kill_server_during_writes").run(
            writable_index, kills=1, articles=10, seed=11, min_delay=3.0, max_delay=6.0, embedder=embedder,
            api_key=API_KEY, log=QUIET)
    assert result["problems"] == [], json.dumps(result["rounds_detail"], ensure_ascii=False, indent=1)
    assert result["kills"] == 1
    assert result["acknowledged_writes"] >= 1
    assert result["server_log_bytes"] > 0  # it logged (at debug level) and the key is not in it


# ----------------------------------------------------------------------------- reads during writes
@pytest.mark.slow
def test_reads_stay_consistent_while_http_and_cli_write(writable_index: Path, settings: Settings, embedder) -> None:
    """Searches, GETs and /stats during POST/DELETE and a concurrent `thaigov-search index --delete` process:
    no 5xx, every answer from a whole, consistent index, and the CLI's changes visible without restart."""
    rdw = script("reads_during_writes")
    app_settings = settings.model_copy(update={"api_key": API_KEY, "max_passages_per_article": 1})
    known, a0, p0 = rdw.known_from_index(writable_index)
    chosen, expected = rdw.pick_articles(embedder, app_settings, set(known), 9)
    known.update(rdw.known_from_expected(expected))
    http_pool, doomed, cli_adds = chosen[:4], chosen[4], chosen[5:9]
    # opened as `serve` opens it (verify="later": the cheap checks at once). Its size check once read the
    # database file with Python's open(); the close dropped SQLite's POSIX locks of this process, the CLI
    # writer then reset the WAL under our readers at its exit: "disk I/O error" (SQLITE_IOERR_SHORT_READ)
    searcher = Searcher(writable_index, app_settings, embedder=embedder, verify="later")
    with noisy_neighbour(), running(create_app(writable_index, app_settings, searcher)) as base:
        httpx.post(f"{base}/documents", json=doomed, headers={"X-API-Key": API_KEY}, timeout=120).raise_for_status()
        result = rdw.exercise(base, writable_index, API_KEY, http_pool, [(cli_adds, [doomed["id"]])], known,
                              set(known) - set(expected), a0, p0, readers=2, min_seconds=5.0,
                              env=child_env(commit_every=2), seed=5, log=QUIET)
    assert result["problems"] == [], json.dumps(result, ensure_ascii=False, indent=1)[:6000]
    assert result["server_errors_5xx"] == 0
    counts = result["counts"]
    assert counts.get("transport_errors", 0) == 0
    assert counts["searches"] >= 10 and counts["results_checked"] > 0 and counts["stats_checked"] > 0
    assert counts.get("http_adds", 0) > 0
    assert result["cli_rounds"][0]["rc"] == 0


# -------------------------------------------------------------------------------- damaged files
def truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


@pytest.mark.parametrize("cut", ["empty", "header", "one-page", "half", "all-but-a-page"])
def test_a_truncated_database_is_refused_with_a_clear_message(writable_index: Path, settings: Settings, cut: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    db = writable_index / "index.sqlite"
    for extra in ("index.sqlite-wal", "index.sqlite-shm"):
        (writable_index / extra).unlink(missing_ok=True)
    size = db.stat().st_size
    truncate(db, {"empty": 0, "header": 100, "one-page": 4096, "half": size // 2, "all-but-a-page": size - 4096}[cut])
    with pytest.raises(IndexCorruptError, match=r"index\.sqlite.*(damaged|integrity).*Rebuild"):
        Searcher(writable_index, settings)
    capsys.readouterr()
    assert main(["stats", "--index-dir", str(writable_index)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "index.sqlite" in err and "Traceback" not in err


@pytest.mark.parametrize("how", ["file-deleted", "manifest-renamed", "file-emptied"])
def test_a_manifest_pointing_at_a_missing_snapshot_is_refused(writable_index: Path, settings: Settings, how: str) -> None:
    manifest = Manifest.read(writable_index)
    snapshot = writable_index / manifest.snapshot
    if how == "file-deleted":
        snapshot.unlink()
    elif how == "file-emptied":
        snapshot.write_bytes(b"")
    else:
        data = json.loads((writable_index / "manifest.json").read_text(encoding="utf-8"))
        data["snapshot"] = "vectors-999999.faiss"
        (writable_index / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="missing" if how != "file-emptied" else "damaged"):
        Searcher(writable_index, settings)


def wait_health(base: str, timeout: float = 120.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = httpx.get(f"{base}/health", timeout=5)
            if r.json().get("status") != "loading":
                return r
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "no answer from /health"
        time.sleep(0.1)


@pytest.mark.slow
def test_serve_on_a_damaged_database_says_so_and_never_serves_empty_results(writable_index: Path, tmp_path: Path) -> None:
    """`thaigov-search serve` (default host) on a truncated database: it listens on 127.0.0.1 only, /health
    is 503 with the reason, every read route is 503 -- no 200 with an empty list."""
    db = writable_index / "index.sqlite"
    truncate(db, db.stat().st_size // 2)
    server = script("kill_server_during_writes").ServeProcess(writable_index, tmp_path / "serve.log", child_env())
    try:
        health = wait_health(server.base)
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "error" and "index.sqlite" in body["detail"] and "damaged" in body["detail"]
        for path in ("/search?q=รัฐบาล", "/stats", "/categories", "/documents/tg012535"):
            r = httpx.get(server.base + path, timeout=30)
            assert r.status_code == 503 and "index.sqlite" in r.json()["detail"], (path, r.text)
        assert server.proc.poll() is None  # it stays up and keeps saying why
        listening = {c.laddr.ip for c in psutil.Process(server.proc.pid).net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}
    finally:
        server.stop()
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert f"at http://127.0.0.1:{server.port}/" in log


@pytest.mark.slow
def test_serve_on_a_damaged_manifest_exits_with_a_clear_message(writable_index: Path) -> None:
    (writable_index / "manifest.json").write_text('{"format_version": 1, "model": ', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "thaigov_search.cli", "serve", "--index-dir", str(writable_index),
                           "--port", "9"], env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "manifest.json is damaged" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_http_service_reports_a_missing_snapshot(writable_index: Path, settings: Settings) -> None:
    (writable_index / Manifest.read(writable_index).snapshot).unlink()
    with running(create_app(writable_index, settings)) as base:
        health = wait_health(base)
        assert health.status_code == 503 and "missing" in health.json()["detail"]
        assert httpx.get(f"{base}/search", params={"q": "รัฐบาล"}).status_code == 503


# ------------------------------------------------------------------------------------ access
@pytest.fixture()
def keyed(writable_index: Path, settings: Settings, embedder) -> Iterator[str]:
    app_settings = settings.model_copy(update={"api_key": API_KEY})
    with running(create_app(writable_index, app_settings, Searcher(writable_index, app_settings, embedder=embedder))) as base:
        yield base


def test_keys_are_compared_with_hmac_compare_digest(keyed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    wrong = httpx.delete(f"{keyed}/documents/tg012535", headers={"X-API-Key": "x" * len(API_KEY)})
    assert wrong.status_code == 403
    assert calls == [(b"x" * len(API_KEY), API_KEY.encode())]
    right = httpx.post(f"{keyed}/documents", content=b"{}", headers={"X-API-Key": API_KEY})
    assert right.status_code == 422 and len(calls) == 2  # past the key check, stopped by validation


def test_keys_never_appear_in_logs_or_answers(keyed: str, caplog: pytest.LogCaptureFixture) -> None:
    wrong_key = "wrong-" + API_KEY[::-1]
    with caplog.at_level(logging.DEBUG):
        answers = [
            httpx.post(f"{keyed}/documents", json={"id": "x"}, headers={"X-API-Key": wrong_key}),
            httpx.delete(f"{keyed}/documents/nope", headers={"X-API-Key": wrong_key + "2"}),
            httpx.post(f"{keyed}/documents", json={"id": "x"}, headers={"X-API-Key": API_KEY}),
            httpx.delete(f"{keyed}/documents/nope", headers={"X-API-Key": API_KEY}),
            httpx.post(f"{keyed}/documents", content=b"{bad", headers={"X-API-Key": API_KEY}),
        ]
    assert [a.status_code for a in answers] == [403, 403, 422, 404, 400]
    for secret in (API_KEY, wrong_key):
        assert secret not in caplog.text
        assert all(secret not in a.text for a in answers)


def test_the_server_binds_loopback_by_default(sample_index: Path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    from thaigov_search.api import app as app_module

    monkeypatch.delenv("THAIGOV_SEARCH_HOST", raising=False)
    assert Settings().host == "127.0.0.1"
    calls: list[dict] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: calls.append(kwargs))
    app_module.serve(sample_index, Settings(port=8123))
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8123
    assert calls[0]["access_log"] is False  # no request lines (URLs, headers) in the log
    with caplog.at_level(logging.WARNING, logger="thaigov_search.api.app"):
        app_module.serve(sample_index, Settings(host="0.0.0.0"))
    assert calls[1]["host"] == "0.0.0.0" and "reachable from other machines" in caplog.text


def test_cors_origins_are_an_explicit_list(sample_index: Path, settings: Settings, embedder,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    portal = "https://portal.example.go.th"
    monkeypatch.setenv("THAIGOV_SEARCH_CORS_ORIGINS", json.dumps([portal]))
    assert Settings().cors_origins == [portal]
    monkeypatch.delenv("THAIGOV_SEARCH_CORS_ORIGINS")
    assert Settings().cors_origins == []
    app_settings = settings.model_copy(update={"cors_origins": [portal], "api_key": API_KEY})
    with running(create_app(sample_index, app_settings, Searcher(sample_index, app_settings, embedder=embedder))) as base:
        preflight = {"Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "x-api-key"}
        ok = httpx.options(f"{base}/documents/x", headers=preflight | {"Origin": portal})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == portal
        assert "access-control-allow-credentials" not in ok.headers
        for origin in ("https://evil.example", "null", portal + ".evil.example", "http://portal.example.go.th"):
            refused = httpx.options(f"{base}/documents/x", headers=preflight | {"Origin": origin})
            assert "access-control-allow-origin" not in refused.headers, origin
            simple = httpx.get(f"{base}/stats", headers={"Origin": origin})
            assert simple.headers.get("access-control-allow-origin") in (None,), origin


# --------------------------------------------------------------------------------------- load
@pytest.fixture(scope="module")
def served(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`thaigov-search serve` in its own process over a copy of the sample index (default settings)."""
    work = tmp_path_factory.mktemp("served")
    shutil.copytree(sample_index, work / "index")
    server = script("kill_server_during_writes").ServeProcess(work / "index", work / "serve.log", child_env())
    try:
        server.wait_ready()
        yield server.base
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", [8, 32])
def test_load_at_8_and_32_connections_has_no_errors(served: str, concurrency: int,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`thaigov-search bench query` (hybrid, loopback) against the served index: zero errors, latencies bounded."""
    capsys.readouterr()
    with noisy_neighbour():
        assert main(["bench", "query", "--url", served, "--concurrency", str(concurrency), "--duration", "20",
                     "--requests", str(concurrency * 6), "--warmup", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    with capsys.disabled():
        print(f"\nload c={concurrency}: {data['requests']} requests, {data['errors']} errors, {data['qps']} q/s, "
              f"p50 {data['p50_ms']} ms, p95 {data['p95_ms']} ms, p99 {data['p99_ms']} ms")
    assert data["errors"] == 0, data.get("error_samples")
    assert data["requests"] > concurrency
    assert data["p99_ms"] < Settings().request_timeout_s * 1000


@pytest.mark.slow
def test_big_queries_do_not_starve_small_ones(served: str) -> None:
    """Three clients hammer k=100 with 1000-character queries; a fourth client's small queries still answer
    200 within the request time limit, and the big ones get answers (or a 504), never another 5xx."""
    limit_s = Settings().request_timeout_s
    text = ("มาตรการช่วยเหลือเกษตรกรผู้ปลูกข้าวและการแก้ไขปัญหาน้ำท่วมภาคเหนือของคณะรัฐมนตรี " * 20)
    big_statuses: Counter = Counter()
    big_ms: list[float] = []
    stop = threading.Event()

    def big(n: int) -> None:
        with httpx.Client(base_url=served, timeout=120) as client:
            i = 0
            while not stop.is_set():
                q = text[n * 7 + i:][:1000]
                t0 = time.monotonic()
                r = client.get("/search", params={"q": q, "k": 100, "mode": "hybrid"})
                big_ms.append((time.monotonic() - t0) * 1000)
                big_statuses[r.status_code] += 1
                i += 1

    threads = [threading.Thread(target=big, args=(n,), daemon=True) for n in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the big ones are running
    small_ms, small_statuses = [], Counter()
    with httpx.Client(base_url=served, timeout=120) as client:
        for q in ["รัฐบาล", "น้ำท่วม", "digital government", "ข้าว", "นายกรัฐมนตรี"] * 3:
            t0 = time.monotonic()
            r = client.get("/search", params={"q": q, "k": 5})
            small_ms.append((time.monotonic() - t0) * 1000)
            small_statuses[r.status_code] += 1
    stop.set()
    for t in threads:
        t.join(timeout=150)
    small_ms.sort()
    print(f"\nsmall: {dict(small_statuses)}, p50 {small_ms[len(small_ms) // 2]:.0f} ms, max {small_ms[-1]:.0f} ms; "
          f"big: {dict(big_statuses)}, p50 {sorted(big_ms)[len(big_ms) // 2]:.0f} ms")
    assert small_statuses == Counter({200: 15})
    assert small_ms[-1] < limit_s * 1000
    assert sum(big_statuses.values()) >= 3 and set(big_statuses) <= {200, 504}
