#!/usr/bin/env python
"""kill -9 `thaigov-search serve` while clients write through POST/DELETE /documents; check every acknowledged write.

Each round starts ``thaigov-search -v serve`` (debug logging, the API key set, the torch backend) as a
separate process on a free 127.0.0.1 port, waits for ``/health`` = ok, checks that the index holds exactly
what the acknowledged writes so far say, sends one request with a wrong key and one with none
(403/401), then a writer thread sends writes one at a time -- POST of 1-3 new articles (70 %),
DELETE of an article it added (20 %), a re-POST of an unchanged article (10 %) -- and after a random
delay the server gets SIGKILL. A write answered 200 before the kill is *acknowledged*: after the
restart an acknowledged add must be there (whole, with its exact title/body/passages) and an
acknowledged delete must be gone. The one write in flight at the kill may have committed or not, but
all of it or none of it (a POST of three articles is one transaction). After each kill, with no writer
alive, the index directory is checked like in ``kill_indexer_repeatedly.py`` (integrity, whole
articles, no duplicate ids, FAISS ids == database vector ids).

At the end a last server is started, every acknowledged write is checked over HTTP (GET, /stats,
a lexical search for each added title finds it exactly once), it is stopped with Ctrl-C, and the
server log of all rounds (written at debug level) is searched for the API key and the wrong key:
neither may appear.

docs/reliability.md records real runs; tests/test_reliability.py runs a one-kill version via :func:`run`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kill_indexer_repeatedly import (  # noqa: E402
    DEMO,
    REPO,
    Expected,
    add_noisy_flag,
    child_env,
    committed_ids,
    expected_of,
    finish,
    index_problems,
    load_articles,
    log_stderr,
    noisy_if,
    set_torch_threads,
)

from thaigov_search.cli.load import free_port  # noqa: E402

WRONG_KEY = "wrong-key-d41d8cd98f"


def payload(article) -> dict:
    return {"id": article.id, "title": article.title, "body": article.body, "date": article.date,
            "category": article.category, "url": article.url, "language": article.language}


def stored_form(payloads: list[dict]):
    """The Article the server stores for a payload (the server's own parsing function)."""
    from thaigov_search.api.schemas import ArticleIn
    from thaigov_search.api.writes import article_from_item

    return [article_from_item(ArticleIn(**p)) for p in payloads]


class ServeProcess:
    """`thaigov-search -v serve` on a free loopback port, its output appended to ``log_path``."""

    def __init__(self, index_dir: Path, log_path: Path, env: dict[str, str]):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "thaigov_search.cli", "-v", "serve", "--index-dir", str(index_dir),
               "--port", str(self.port)]
        with open(log_path, "ab") as fh:
            self.proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=fh, stdin=subprocess.DEVNULL, cwd=REPO)

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            try:
                r = httpx.get(self.base + "/health", timeout=5)
                if r.status_code == 200:
                    return
                if r.json().get("status") == "error":
                    raise RuntimeError(f"the server could not open the index: {r.json().get('detail')}")
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server was not ready after {timeout:g}s")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Ledger:
    """What the acknowledged writes say the index holds (only the ids this script writes)."""

    present: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)  # acknowledged deletes not re-added since
    acked: int = 0
    acked_adds: int = 0
    acked_deletes: int = 0
    in_flight: tuple[str, list[str]] | None = None
    in_flight_outcomes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def apply(self, op: str, ids: list[str]) -> None:
        if op == "post":
            self.present.update(ids)
            self.deleted.difference_update(ids)
        else:
            self.present.difference_update(ids)
            self.deleted.update(ids)


def writer_loop(base: str, key: str, pool: list[dict], ledger: Ledger, rng: random.Random, stop: threading.Event,
                lock: threading.Lock) -> None:
    by_id = {p["id"]: p for p in pool}
    with httpx.Client(base_url=base, timeout=300, headers={"X-API-Key": key}) as client:
        while not stop.is_set():
            with lock:
                absent = [i for i in by_id if i not in ledger.present]
                present = sorted(ledger.present)
            roll = rng.random()
            if absent and (roll < 0.7 or not present):
                ids = rng.sample(absent, min(len(absent), rng.randint(1, 3)))
                op = ("post", ids)
            elif present and roll < 0.9:
                op = ("delete", [rng.choice(present)])
            elif present:
                op = ("post", [rng.choice(present)])
            else:
                return
            with lock:
                ledger.in_flight = op
            try:
                if op[0] == "post":
                    body = [by_id[i] for i in op[1]]
                    r = client.post("/documents", json=body if len(body) > 1 else body[0])
                else:
                    r = client.delete(f"/documents/{op[1][0]}")
            except httpx.TransportError:
                return  # the server died; the op stays in flight
            with lock:
                if r.status_code == 200:
                    data = r.json()
                    if op[0] == "post" and data["indexed"] + data["unchanged"] != len(op[1]):
                        ledger.errors.append(f"POST {op[1]} answered {data}")
                    ledger.apply(*op)
                    ledger.acked += 1
                    if op[0] == "post":
                        ledger.acked_adds += 1
                    else:
                        ledger.acked_deletes += 1
                else:
                    ledger.errors.append(f"{op[0]} {op[1]} -> {r.status_code} {r.text[:200]}")
                ledger.in_flight = None


def settle_in_flight(index_dir: Path, managed: set[str], ledger: Ledger) -> list[str]:
    """After a kill: the write in flight happened wholly or not at all; fold it into the ledger."""
    problems = []
    ids_now = committed_ids(index_dir) & managed
    if ledger.in_flight is not None:
        op, ids = ledger.in_flight
        there = [i for i in ids if i in ids_now]
        if op == "post":  # a batch of new ids (or one unchanged re-post): one transaction, all or nothing
            if 0 < len(there) < len(ids):
                problems.append(f"in-flight POST {ids} half applied: {there} present")
            applied = len(there) == len(ids)
            if applied:
                ledger.apply(op, ids)
        else:
            applied = not there
            if applied:
                ledger.apply(op, ids)
        ledger.in_flight_outcomes.append(f"{op} {len(ids)} article(s): {'committed' if applied else 'not committed'}")
        ledger.in_flight = None
    lost = ledger.present - ids_now
    resurrected = ids_now & ledger.deleted
    unexpected = ids_now - ledger.present
    if lost:
        problems.append(f"acknowledged adds missing after the kill: {sorted(lost)}")
    if resurrected:
        problems.append(f"acknowledged deletes back after the kill: {sorted(resurrected)}")
    if unexpected - resurrected:
        problems.append(f"ids present that no write explains: {sorted(unexpected - resurrected)}")
    return problems


def http_problems(base: str, ledger: Ledger, expected: dict[str, Expected], base_articles: int) -> list[str]:
    """Over HTTP, the restarted server shows exactly the ledger, each article once."""
    problems = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for doc_id in sorted(ledger.present):
            r = client.get(f"/documents/{doc_id}")
            if r.status_code != 200 or r.json()["title"] != expected[doc_id].title:
                problems.append(f"GET {doc_id} -> {r.status_code}")
        for doc_id in sorted(ledger.deleted):
            if (r := client.get(f"/documents/{doc_id}")).status_code != 404:
                problems.append(f"deleted {doc_id}: GET -> {r.status_code}")
        stats = client.get("/stats").json()
        if stats["articles"] != base_articles + len(ledger.present):
            problems.append(f"/stats says {stats['articles']} articles, expected {base_articles} + {len(ledger.present)}")
        for doc_id in sorted(ledger.present)[:10]:
            r = client.get("/search", params={"q": expected[doc_id].title[:200], "mode": "lexical", "k": 100})
            ids = [hit["id"] for hit in r.json()["results"]] if r.status_code == 200 else []
            if r.status_code != 200 or ids.count(doc_id) != 1 or len(ids) != len(set(ids)):
                problems.append(f"search for the title of {doc_id}: {r.status_code}, found {ids.count(doc_id)} times")
    return problems


def auth_probe(base: str, key: str) -> list[str]:
    problems = []
    doc = {"id": "auth-probe-1", "title": "t", "body": "b"}
    r = httpx.post(base + "/documents", json=doc, headers={"X-API-Key": WRONG_KEY}, timeout=60)
    if r.status_code != 403:
        problems.append(f"wrong key -> {r.status_code}")
    r = httpx.post(base + "/documents", json=doc, timeout=60)
    if r.status_code != 401:
        problems.append(f"no key -> {r.status_code}")
    return problems


def run(
    index_dir: Path,
    kills: int = 8,
    articles: int = 40,
    seed: int = 1,
    min_delay: float = 1.0,
    max_delay: float = 15.0,
    threads: int | None = 1,
    embedder=None,
    api_key: str | None = None,
    base_max_passages: int = 0,
    log=print,
) -> dict:
    """Kill the server ``kills`` times during writes into the existing index ``index_dir``.

    ``base_max_passages`` is the --max-passages the existing articles were indexed with (0 = all).
    """
    from thaigov_search.core.settings import Settings
    from thaigov_search.embedding.embedder import Embedder

    rng = random.Random(seed)
    index_dir = Path(index_dir)
    api_key = api_key or f"k-{rng.getrandbits(64):016x}-secret"
    settings = Settings(max_passages_per_article=1)
    set_torch_threads(threads)
    base_ids = committed_ids(index_dir)
    pool = [payload(a) for a in load_articles(DEMO) if a.id not in base_ids][:articles]
    if embedder is None:
        embedder = Embedder.from_settings(settings)
    expected = expected_of(stored_form(pool), embedder, settings)
    managed = set(expected)
    env = child_env(threads, api_key=api_key, max_passages_per_article=1)
    log_path = index_dir.parent / f"{index_dir.name}-serve.log"
    ledger = Ledger()
    lock = threading.Lock()
    problems: list[str] = []
    rounds = []
    started = time.monotonic()
    for n in range(kills + 1):
        server = ServeProcess(index_dir, log_path, env)
        t0 = time.monotonic()
        try:
            server.wait_ready()
        except RuntimeError as exc:
            server.kill()
            problems.append(f"round {n + 1}: {exc}")
            break
        ready_s = time.monotonic() - t0
        round_problems = http_problems(server.base, ledger, expected, len(base_ids)) + auth_probe(server.base, api_key)
        if n == kills:  # the last start: only verify, then a clean stop
            server.stop()
            problems += [f"final: {p}" for p in round_problems]
            rounds.append({"round": n + 1, "ready_s": round(ready_s, 1), "final": True, "problems": round_problems})
            log(f"final start: ready in {ready_s:.1f}s, {len(ledger.present)} acknowledged articles checked, "
                f"{len(round_problems)} problems")
            break
        acked_before = ledger.acked
        stop = threading.Event()
        thread = threading.Thread(target=writer_loop, args=(server.base, api_key, pool, ledger, rng, stop, lock),
                                  daemon=True)
        thread.start()
        delay = rng.uniform(min_delay, max_delay)
        time.sleep(delay)
        server.kill()
        stop.set()
        thread.join(timeout=60)
        in_flight = ledger.in_flight
        round_problems += settle_in_flight(index_dir, managed, ledger)
        summary, structure = index_problems(index_dir, expected, max_passages=base_max_passages, only_expected_ids=False)
        round_problems += structure
        record = {"round": n + 1, "ready_s": round(ready_s, 1), "killed_after_s": round(delay, 2),
                  "acked_writes": ledger.acked - acked_before, "in_flight": in_flight,
                  "in_flight_outcome": ledger.in_flight_outcomes[-1] if in_flight else None,
                  "present_after": len(ledger.present), "articles_after": summary.get("articles"),
                  "problems": round_problems}
        rounds.append(record)
        problems += [f"round {n + 1}: {p}" for p in round_problems]
        log(f"round {n + 1}: ready in {ready_s:.1f}s, killed {delay:.1f}s later after {record['acked_writes']} "
            f"acknowledged writes; in flight: {record['in_flight_outcome']}; problems {len(round_problems)}")
    problems += [f"writer: {e}" for e in ledger.errors]
    log_text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    for secret, name in ((api_key, "the API key"), (WRONG_KEY, "the wrong key")):
        if secret in log_text:
            problems.append(f"{name} appears in the server log {log_path}")
    return {
        "kills": sum(1 for r in rounds if "killed_after_s" in r),
        "acknowledged_writes": ledger.acked,
        "acknowledged_adds": ledger.acked_adds,
        "acknowledged_deletes": ledger.acked_deletes,
        "in_flight_at_kill": ledger.in_flight_outcomes,
        "articles_present_at_end": len(ledger.present),
        "server_log_bytes": len(log_text.encode()),
        "problems": problems,
        "seconds": round(time.monotonic() - started, 1),
        "seed": seed,
        "rounds_detail": rounds,
    }


def build_base_index(index_dir: Path, n: int, embedder=None) -> None:
    """A small starting index: the last ``n`` articles of the demo sample (the writes use the first ones)."""
    from thaigov_search.core.settings import Settings
    from thaigov_search.embedding.embedder import Embedder
    from thaigov_search.indexing.pipeline import Indexer

    settings = Settings(max_passages_per_article=1)
    embedder = embedder or Embedder.from_settings(settings)
    indexer = Indexer(index_dir, settings, embedder)
    try:
        indexer.index_articles(load_articles(DEMO)[-n:])
    finally:
        indexer.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_noisy_flag(parser)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--articles", type=int, default=40, help="demo articles the writer may add (default 40)")
    parser.add_argument("--base-articles", type=int, default=10, help="articles in the starting index (default 10)")
    parser.add_argument("--min-delay", type=float, default=1.0)
    parser.add_argument("--max-delay", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (0 = library default)")
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from thaigov_search.core.settings import Settings
    from thaigov_search.embedding.embedder import Embedder

    set_torch_threads(args.threads or None)
    settings = Settings()
    embedder = Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="thaigov-kill-server-") as tmp, noisy_if(args.noisy):
        index_dir = Path(tmp) / "index"
        build_base_index(index_dir, args.base_articles, embedder)
        result = run(index_dir, kills=args.kills, articles=args.articles, seed=args.seed, min_delay=args.min_delay,
                     max_delay=args.max_delay, threads=args.threads or None, embedder=embedder, base_max_passages=1,
                     log=log_stderr)
        shutil.rmtree(index_dir, ignore_errors=True)
    return finish(result, args.out, args.json,
                  f"{result['kills']} kills, {result['acknowledged_writes']} acknowledged writes "
                  f"({result['acknowledged_adds']} POST, {result['acknowledged_deletes']} DELETE), in flight at the kills: "
                  f"{result['in_flight_at_kill']}; {len(result['problems'])} problems; {result['seconds']}s")


if __name__ == "__main__":
    sys.exit(main())
