#!/usr/bin/env python
"""Searches while articles are added and deleted over HTTP *and* by `thaigov-search index` in another process.

Set-up: a starting index and a running server with an API key (``thaigov-search serve`` started
here as a separate process). Then, at the same time:

* reader threads send ``/search`` (hybrid, dense, lexical; the titles of the articles being written and
  general queries), ``GET /documents/{id}`` for the results, and ``/stats``;
* an HTTP writer POSTs and DELETEs articles of its own pool, one request at a time;
* ``thaigov-search index --input FILE --delete IDS`` runs as a separate process on the same index
  directory, round after round, each round deleting what the previous one added and adding new ones.

Every article that is ever written has exactly ``PASSAGES`` (3) passages, and no article ever changes
content, so every answer can be checked against what it must be:

* no 5xx and no broken connection, ever;
* every search result is a known id whose title is that id's title, whose snippet (tags removed,
  unescaped) is a piece of one of that id's passages, and no id appears twice in one answer;
* ``GET /documents/{id}`` of a result answers 200 with that title, or 404 only for an id a delete of which was
  under way at some moment between the search's start and the GET's end (never for an article of the
  starting index, which no one deletes);
* ``/stats`` moves in whole articles only: ``passages - P0 == 3 * (articles - A0)`` at every sample
  (A0, P0: the starting index), i.e. no answer ever sees an article without its passages or vice versa;
* after each command-line round, without any restart, the server finds every article the command
  added (GET 200, and a lexical search for its title ranks it first) and none it deleted.

``tests/test_reliability.py`` runs a short version through :func:`exercise` against an in-process server;
docs/reliability.md records real runs of this script.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kill_indexer_repeatedly import (  # noqa: E402
    DEMO,
    add_noisy_flag,
    child_env,
    expected_of,
    finish,
    load_articles,
    log_stderr,
    noisy_if,
    ro_connect,
    set_torch_threads,
)
from kill_server_during_writes import ServeProcess, build_base_index, payload, stored_form  # noqa: E402

from thaigov_search.core.modes import MODES  # noqa: E402

PASSAGES = 3
GENERAL_QUERIES = ["รัฐบาล", "นายกรัฐมนตรี ประชุม", "การพัฒนาเศรษฐกิจ", "digital government", "กระทรวง", "ประเทศไทย"]
MARK = re.compile(r"</?mark>")


@dataclass(frozen=True)
class Known:
    title: str
    passages: tuple[str, ...]  # as the snippet code sees them: normalised, newlines as spaces


@dataclass
class Shared:
    """State shared by the threads of one exercise, under ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    deletes: dict[str, list[list[float | None]]] = field(default_factory=dict)  # id -> [[start, end], ...]
    problems: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)
    search_ms: list[float] = field(default_factory=list)
    stats_seen: set[tuple[int, int]] = field(default_factory=set)

    def problem(self, text: str) -> None:
        with self.lock:
            if len(self.problems) < 200:
                self.problems.append(text)
            self.counts["problems"] += 1

    def deleting(self, ids: Sequence[str]) -> list[list[float | None]]:
        """Record that deletes of ``ids`` start now; set [1] of the returned spans when they are done."""
        now = time.monotonic()
        spans = []
        with self.lock:
            for i in ids:
                span: list[float | None] = [now, None]
                self.deletes.setdefault(i, []).append(span)
                spans.append(span)
        return spans

    def deleted(self, spans: list[list[float | None]]) -> None:
        now = time.monotonic()
        with self.lock:
            for span in spans:
                span[1] = now

    def deletion_overlaps(self, doc_id: str, start: float, end: float) -> bool:
        """A delete of ``doc_id`` was under way at some moment of [start, end] (a search, then its GET)."""
        with self.lock:
            return any(s <= end and (e is None or e >= start) for s, e in self.deletes.get(doc_id, ()))


def snippet_core(snippet: str) -> str:
    text = html.unescape(MARK.sub("", snippet))
    if text.startswith("… "):
        text = text[2:]
    if text.endswith(" …"):
        text = text[:-2]
    return text.strip()


def known_from_index(index_dir: Path) -> tuple[dict[str, Known], int, int]:
    """Every article already in the index, with its passages; and the counts (A0, P0)."""
    from thaigov_search.core.thai_text import normalize_text

    conn = ro_connect(index_dir)
    try:
        known: dict[str, Known] = {}
        passages: dict[str, list[str]] = {}
        from thaigov_search.store.queries import article_passages

        rows = sorted(article_passages(conn), key=lambda r: (r[1], r[4]))  # by id, position; texts are body spans
        for _, doc_id, _, _, _, text, _ in rows:
            passages.setdefault(doc_id, []).append(normalize_text(text).replace("\n", " "))
        for doc_id, title in conn.execute("SELECT id, title FROM articles"):
            known[doc_id] = Known(title, tuple(passages.get(doc_id, ())))
        return known, len(known), sum(len(p) for p in passages.values())
    finally:
        conn.close()


def known_from_expected(expected) -> dict[str, Known]:
    from thaigov_search.core.thai_text import normalize_text

    return {i: Known(e.title, tuple(normalize_text(p).replace("\n", " ") for p in e.passages)) for i, e in expected.items()}


def reader_loop(base: str, known: dict[str, Known], base_ids: set[str], a0: int, p0: int, queries: list[str],
                shared: Shared, seed: int, timeout: float) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=timeout) as client:
        n = 0
        while not shared.stop.is_set():
            n += 1
            try:
                q = rng.choice(queries)
                t0 = time.monotonic()
                r = client.get("/search", params={"q": q, "mode": rng.choice(MODES), "k": rng.choice([5, 10, 20])})
                with shared.lock:
                    shared.statuses[r.status_code] += 1
                    shared.counts["searches"] += 1
                    shared.search_ms.append((time.monotonic() - t0) * 1000)
                if r.status_code != 200:
                    shared.problem(f"/search {q!r} -> {r.status_code} {r.text[:200]}")
                    continue
                results = r.json()["results"]
                ids = [hit["id"] for hit in results]
                if len(ids) != len(set(ids)):
                    shared.problem(f"/search {q!r}: an id twice in one answer: {ids}")
                for hit in results:
                    want = known.get(hit["id"])
                    with shared.lock:
                        shared.counts["results_checked"] += 1
                    if want is None:
                        shared.problem(f"/search {q!r}: unknown id {hit['id']}")
                        continue
                    if hit["title"] != want.title:
                        shared.problem(f"/search {q!r}: {hit['id']} came with the title {hit['title'][:60]!r}")
                    core = snippet_core(hit["snippet"])
                    if core and not any(core in p for p in want.passages):
                        shared.problem(f"/search {q!r}: the snippet of {hit['id']} is not from its passages: {core[:80]!r}")
                for doc_id in ids[:3] + [i for i in ids[3:] if i not in base_ids]:
                    d = client.get(f"/documents/{doc_id}")
                    with shared.lock:
                        shared.statuses[d.status_code] += 1
                        shared.counts["documents_checked"] += 1
                    if d.status_code == 200:
                        if d.json()["title"] != known[doc_id].title:
                            shared.problem(f"GET {doc_id}: another article's title")
                    elif d.status_code == 404 and doc_id not in base_ids and shared.deletion_overlaps(doc_id, t0, time.monotonic()):
                        with shared.lock:
                            shared.counts["deleted_in_between"] += 1
                    else:
                        shared.problem(f"GET {doc_id} (a result of {q!r}) -> {d.status_code} {d.text[:120]}")
                if n % 3 == 0:
                    s = client.get("/stats")
                    with shared.lock:
                        shared.statuses[s.status_code] += 1
                        shared.counts["stats_checked"] += 1
                    if s.status_code != 200:
                        shared.problem(f"/stats -> {s.status_code}")
                        continue
                    articles, passages = s.json()["articles"], s.json()["passages"]
                    with shared.lock:
                        shared.stats_seen.add((articles, passages))
                    if passages - p0 != PASSAGES * (articles - a0):
                        shared.problem(f"/stats: {articles} articles with {passages} passages is not whole articles "
                                       f"(start {a0}/{p0}, {PASSAGES} passages per written article)")
            except httpx.HTTPError as exc:
                with shared.lock:
                    shared.counts["transport_errors"] += 1
                shared.problem(f"reader: {type(exc).__name__}: {exc}")


def busy(r: httpx.Response, shared: Shared) -> bool:
    """A 503 with Retry-After: an `index` run held the index's writer lock longer than the server's
    write_wait_s; the write was not applied (documented, not an error). Counted, then sent again
    after a short pause (the header says 30 s; this test client does not wait that long)."""
    if r.status_code != 503 or "retry-after" not in r.headers:
        return False
    with shared.lock:
        shared.counts["http_writes_deferred_503"] += 1
    time.sleep(0.5)
    return True


def http_writer_loop(base: str, key: str, pool: list[dict], shared: Shared, seed: int) -> None:
    rng = random.Random(seed)
    present: set[str] = set()
    by_id = {p["id"]: p for p in pool}
    with httpx.Client(base_url=base, timeout=300, headers={"X-API-Key": key}) as client:
        while not shared.stop.is_set():
            absent = [i for i in by_id if i not in present]
            try:
                if absent and (not present or rng.random() < 0.55):
                    ids = rng.sample(absent, min(len(absent), rng.randint(1, 2)))
                    body = [by_id[i] for i in ids]
                    r = client.post("/documents", json=body if len(body) > 1 else body[0])
                    if busy(r, shared):
                        continue
                    if r.status_code == 200 and r.json()["indexed"] == len(ids):
                        present.update(ids)
                        with shared.lock:
                            shared.counts["http_adds"] += len(ids)
                    else:
                        shared.problem(f"POST {ids} -> {r.status_code} {r.text[:200]}")
                else:
                    doc_id = rng.choice(sorted(present))
                    spans = shared.deleting([doc_id])
                    r = client.delete(f"/documents/{doc_id}")
                    shared.deleted(spans)
                    if busy(r, shared):
                        continue
                    if r.status_code == 200:
                        present.discard(doc_id)
                        with shared.lock:
                            shared.counts["http_deletes"] += 1
                    else:
                        shared.problem(f"DELETE {doc_id} -> {r.status_code} {r.text[:200]}")
                with shared.lock:
                    shared.statuses[r.status_code] += 1
            except httpx.HTTPError as exc:
                shared.problem(f"writer: {type(exc).__name__}: {exc}")
                return


def cli_round(index_dir: Path, adds: list[dict], deletes: list[str], work: Path, env: dict[str, str],
              timeout: float = 600.0) -> tuple[int, str]:
    """One `thaigov-search index` run in another process: delete ``deletes``, then add ``adds``."""
    path = work / f"cli-{int(time.monotonic() * 1000)}.jsonl"
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in adds), encoding="utf-8")
    cmd = [sys.executable, "-m", "thaigov_search.cli", "index", "--index-dir", str(index_dir), "--max-passages", "1",
           "--quiet", "--json", "--input", str(path)]
    if deletes:
        cmd += ["--delete", *deletes]
    done = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")[-2000:]


def check_cli_result(base: str, adds: list[dict], deletes: list[str], known: dict[str, Known]) -> list[str]:
    """The server (never restarted) sees what the command line did."""
    problems = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for p in adds:
            d = client.get(f"/documents/{p['id']}")
            if d.status_code != 200:
                problems.append(f"added by the CLI, GET {p['id']} -> {d.status_code}")
            r = client.get("/search", params={"q": known[p["id"]].title, "mode": "lexical", "k": 10})
            ids = [h["id"] for h in r.json()["results"]] if r.status_code == 200 else []
            if not ids or ids[0] != p["id"]:
                problems.append(f"added by the CLI, a search for its title ranks {p['id']} at "
                                f"{ids.index(p['id']) + 1 if p['id'] in ids else 'nowhere'}")
        for doc_id in deletes:
            if (d := client.get(f"/documents/{doc_id}")).status_code != 404:
                problems.append(f"deleted by the CLI, GET {doc_id} -> {d.status_code}")
            r = client.get("/search", params={"q": known[doc_id].title, "mode": "hybrid", "k": 50})
            if r.status_code != 200 or doc_id in [h["id"] for h in r.json()["results"]]:
                problems.append(f"deleted by the CLI, {doc_id} still found ({r.status_code})")
    return problems


def exercise(
    base: str,
    index_dir: Path,
    api_key: str,
    http_pool: list[dict],
    cli_rounds: list[tuple[list[dict], list[str]]],
    known: dict[str, Known],
    base_ids: set[str],
    a0: int,
    p0: int,
    readers: int = 3,
    min_seconds: float = 0.0,
    env: dict[str, str] | None = None,
    seed: int = 1,
    request_timeout: float = 120.0,
    log=print,
) -> dict:
    """Readers + HTTP writer + command-line rounds at once; returns counts and the problems found."""
    shared = Shared()
    managed_titles = [known[p["id"]].title[:80] for p in http_pool] + [known[p["id"]].title[:80]
                                                                        for adds, _ in cli_rounds for p in adds]
    queries = GENERAL_QUERIES + managed_titles
    threads = [threading.Thread(target=reader_loop, name=f"reader-{i}", daemon=True,
                                args=(base, known, base_ids, a0, p0, queries, shared, seed * 100 + i, request_timeout))
               for i in range(readers)]
    threads.append(threading.Thread(target=http_writer_loop, name="http-writer", daemon=True,
                                    args=(base, api_key, http_pool, shared, seed)))
    started = time.monotonic()
    for t in threads:
        t.start()
    cli_log = []
    with tempfile.TemporaryDirectory(prefix="thaigov-rdw-") as work:
        for n, (adds, deletes) in enumerate(cli_rounds, 1):
            spans = shared.deleting(deletes)
            t0 = time.monotonic()
            rc, output = cli_round(index_dir, adds, deletes, Path(work), env or child_env())
            shared.deleted(spans)
            took = time.monotonic() - t0
            if rc != 0:
                shared.problem(f"CLI round {n} exited with {rc}: {output}")
            for p in check_cli_result(base, adds, deletes, known):
                shared.problem(f"CLI round {n}: {p}")
            cli_log.append({"round": n, "added": len(adds), "deleted": len(deletes), "seconds": round(took, 1), "rc": rc})
            log(f"CLI round {n}: +{len(adds)} -{len(deletes)} in {took:.1f}s (rc {rc}); "
                f"{shared.counts['searches']} searches so far, {shared.counts['problems']} problems")
        while time.monotonic() - started < min_seconds and not shared.stop.is_set():
            time.sleep(0.5)
    shared.stop.set()
    for t in threads:
        t.join(timeout=request_timeout + 30)
    ms = sorted(shared.search_ms)

    def pct(q: float) -> float | None:
        return round(ms[min(len(ms) - 1, int(q * len(ms)))], 1) if ms else None

    return {
        "seconds": round(time.monotonic() - started, 1),
        "readers": readers,
        "counts": dict(shared.counts),
        "statuses": {str(k): v for k, v in sorted(shared.statuses.items())},
        "server_errors_5xx": sum(v for k, v in shared.statuses.items() if k >= 500),
        "distinct_stats_seen": len(shared.stats_seen),
        "search_ms": {"p50": pct(0.5), "p95": pct(0.95), "max": round(ms[-1], 1) if ms else None},
        "cli_rounds": cli_log,
        "problems": shared.problems,
        "seed": seed,
    }


def pick_articles(embedder, settings, exclude: set[str], count: int) -> tuple[list[dict], dict]:
    """``count`` demo articles with exactly PASSAGES passages, as payloads, and their expected forms."""
    pool = [payload(a) for a in load_articles(DEMO) if a.id not in exclude]
    expected = expected_of(stored_form(pool), embedder, settings)
    chosen = [p for p in pool if len(expected[p["id"]].passages) == PASSAGES][:count]
    if len(chosen) < count:
        raise RuntimeError(f"only {len(chosen)} demo articles have {PASSAGES} passages")
    return chosen, {p["id"]: expected[p["id"]] for p in chosen}


def plan(chosen: list[dict], http_n: int, rounds: int, per_round: int) -> tuple[list[dict], list[tuple[list[dict], list[str]]]]:
    """The HTTP writer's pool, then CLI rounds: round r adds its articles and deletes round r-1's first two."""
    http_pool = chosen[:http_n]
    rest = chosen[http_n:]
    cli_rounds = []
    previous: list[dict] = []
    for r in range(rounds):
        adds = rest[r * per_round:(r + 1) * per_round]
        cli_rounds.append((adds, [p["id"] for p in previous[:2]]))
        previous = adds
    return http_pool, cli_rounds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_noisy_flag(parser)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--cli-rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=6, help="articles each CLI round adds (default 6)")
    parser.add_argument("--http-articles", type=int, default=10, help="the HTTP writer's pool (default 10)")
    parser.add_argument("--base-articles", type=int, default=20)
    parser.add_argument("--min-seconds", type=float, default=0.0, help="keep the load on at least this long")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (0 = library default)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from thaigov_search.core.settings import Settings
    from thaigov_search.embedding.embedder import Embedder

    set_torch_threads(args.threads or None)
    settings = Settings(max_passages_per_article=1)
    embedder = Embedder.from_settings(settings)
    api_key = f"rdw-{random.Random(args.seed).getrandbits(64):016x}"
    need = args.http_articles + args.cli_rounds * args.per_round
    with tempfile.TemporaryDirectory(prefix="thaigov-rdw-index-") as tmp, noisy_if(args.noisy):
        index_dir = Path(tmp) / "index"
        build_base_index(index_dir, args.base_articles, embedder)
        known, a0, p0 = known_from_index(index_dir)
        chosen, expected = pick_articles(embedder, settings, set(known), need)
        known.update(known_from_expected(expected))
        http_pool, cli_rounds = plan(chosen, args.http_articles, args.cli_rounds, args.per_round)
        env = child_env(args.threads or None, api_key=api_key, max_passages_per_article=1, commit_every=2)
        server = ServeProcess(index_dir, Path(tmp) / "serve.log", env)
        try:
            server.wait_ready()
            result = exercise(server.base, index_dir, api_key, http_pool, cli_rounds, known, set(known) - set(expected),
                              a0, p0, readers=args.readers, min_seconds=args.min_seconds, env=env, seed=args.seed, log=log_stderr)
        finally:
            server.stop()
            if result_has_problems(locals().get("result")):  # the server's side of the story, before tmp goes
                log_stderr("server log (last 6,000 characters):\n"
                           + (Path(tmp) / "serve.log").read_text(encoding="utf-8", errors="replace")[-6000:])
    return finish(result, args.out, args.json,
                  f"{result['seconds']}s: {result['counts']}, statuses {result['statuses']}, "
                  f"{result['distinct_stats_seen']} distinct /stats states, search latency {result['search_ms']}; "
                  f"{len(result['problems'])} problems")


def result_has_problems(result: dict | None) -> bool:
    return bool(result and (result.get("problems") or result.get("server_errors_5xx")))


if __name__ == "__main__":
    sys.exit(main())
