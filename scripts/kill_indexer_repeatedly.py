#!/usr/bin/env python
"""kill -9 `thaigov-search index` at random points, again and again, and check that nothing is lost.

One run of this script:

1. starts ``thaigov-search index --input tests/fixtures/demo-sample.jsonl.gz --limit N --max-passages 1``
   as a separate process with ``THAIGOV_SEARCH_COMMIT_EVERY=2`` (a durable commit every 2 articles);
2. kills it with SIGKILL, either after a random delay from its start (often during start-up, model
   load or an embedding batch), or a random moment after its next commit(s), or -- once only a few
   articles are left -- right around the end of the run (the FAISS snapshot + manifest write);
3. after each kill, with no writer alive: the ids it had committed just before the kill are all
   still there, ``PRAGMA integrity_check`` is ok, every article is whole (its passages at positions
   0..n-1 with the expected texts, one vector each with --max-passages 1, its FTS row, the
   expected content hash), no tombstone points at a live passage, the manifest's snapshot exists
   with the right sha256, a freshly opened index has exactly the database's vectors (FAISS ids ==
   passage ids with a vector), a hybrid search answers, and one long-lived reader opened at the
   start catches up incrementally to the same state;
4. when everything is indexed, 4-16 random ids are deleted (more work for the next runs, and
   tombstones to replay), and it goes on until ``--kills`` kills have been made;
5. a final unkilled run must complete; the index must then hold exactly the expected ids once each,
   consistent, with FAISS vector count == database vector count and the manifest at the database's
   generation.

The result is printed (``--json`` for JSON) and can be saved with ``--out``; docs/reliability.md
records real runs. tests/test_reliability.py runs a CI-sized version (3 kills) through :func:`run`.

The helpers here (:func:`index_problems`, :func:`expected_of`, ...) are shared with
``kill_server_during_writes.py`` and ``reads_during_writes.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from thaigov_search.core.article import Article  # noqa: E402
from thaigov_search.core.files import sha256_file  # noqa: E402
from thaigov_search.store.manifest import MANIFEST_NAME, Manifest  # noqa: E402
from thaigov_search.store.schema import DB_NAME, IndexError_  # noqa: E402
from thaigov_search.store.writer import content_hash  # noqa: E402

DEMO = REPO / "tests" / "fixtures" / "demo-sample.jsonl.gz"
CHECK_QUERY = "รัฐบาล การประชุม"


# ------------------------------------------------------------------------------ shared helpers
@dataclass(frozen=True)
class Expected:
    """What an article must look like once stored: fields, content hash, passage texts."""

    title: str
    body: str
    content_hash: str | None
    passages: tuple[str, ...]
    vectors: int  # passages that carry a vector (the first ones; --max-passages)


def load_articles(path: Path = DEMO, limit: int | None = None) -> list[Article]:
    """The articles ``thaigov-search index --limit`` would index from ``path`` (empty ones left out)."""
    from thaigov_search.indexing.parsing import EmptyArticleError, parse_record
    from thaigov_search.indexing.sources import ReadStats, iter_records

    out: dict[str, Article] = {}
    for record in iter_records([path], ReadStats(), limit=limit):
        try:
            article = parse_record(record)
        except EmptyArticleError:
            continue
        out[article.id] = article
    return list(out.values())


def expected_of(articles: Iterable[Article], embedder, settings) -> dict[str, Expected]:
    """Passages exactly as the indexer cuts them (same function, same tokenizer, same settings)."""
    from thaigov_search.indexing.pipeline import chunk_for_index, chunking_key

    key = chunking_key(settings)
    out = {}
    for article in articles:
        passages = chunk_for_index(article, embedder.count_tokens, settings)
        limit = settings.max_passages_per_article
        vectors = len(passages) if limit <= 0 else min(limit, len(passages))
        out[article.id] = Expected(article.title, article.body, content_hash(article, key), tuple(p.text for p in passages),
                                   vectors)
    return out


def ro_connect(index_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{Path(index_dir) / DB_NAME}?mode=ro", uri=True, timeout=30)


def committed_generation(index_dir: Path) -> int:
    try:
        with ro_connect(index_dir) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0


def committed_ids(index_dir: Path) -> set[str]:
    """Ids a reader can see right now (empty while there is no database or no table yet)."""
    try:
        conn = ro_connect(index_dir)
        try:
            return {r[0] for r in conn.execute("SELECT id FROM articles")}
        finally:
            conn.close()
    except sqlite3.Error:
        return set()


def index_problems(
    index_dir: Path,
    expected: dict[str, Expected] | None = None,
    max_passages: int = 0,
    open_reader: bool = True,
    only_expected_ids: bool = True,
) -> tuple[dict, list[str]]:
    """Check every invariant of an index directory that no writer is changing; (summary, problems).

    ``expected`` gives the required content of the ids it names; with ``only_expected_ids`` any other
    id is a problem, without it other ids are checked for structure only, their vectors on the first
    ``max_passages`` passages (0 = every passage has a vector).
    """
    index_dir = Path(index_dir)
    problems: list[str] = []
    summary: dict = {"state": "ok"}
    db_path = index_dir / DB_NAME
    if not db_path.exists():
        summary["state"] = "no database yet"
        return summary, problems
    conn = ro_connect(index_dir)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
        if integrity != [("ok",)]:
            problems.append(f"integrity_check: {integrity[:5]}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table')")}
        if "articles" not in tables:
            summary["state"] = "database without schema yet"
            return summary, problems
        generation = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        generation = int(generation[0]) if generation else 0
        from thaigov_search.store.queries import article_bodies, article_passages

        rows = list(article_bodies(conn))  # bodies are stored compressed (store/schema.py)
        ids = Counter(r[1] for r in rows)
        problems += [f"id {i} stored {n} times" for i, n in ids.items() if n > 1]
        passages: dict[int, list[tuple[int, int, str, bool]]] = {}
        for rowid, _, _, pid, position, text, has_vector in article_passages(conn):  # a passage is a span of its body
            passages.setdefault(rowid, []).append((pid, position, text, has_vector))
        rowids = {r[0] for r in rows}
        orphans = set(passages) - rowids
        if orphans:
            problems.append(f"passages of {len(orphans)} missing article rows: {sorted(orphans)[:5]}")
        lexical = {r[0] for r in conn.execute("SELECT rowid FROM lexical")}
        if lexical != rowids:
            problems.append(f"FTS rows != article rows: {len(lexical - rowids)} extra, {len(rowids - lexical)} missing")
        vector_pids = {pid for group in passages.values() for pid, _, _, v in group if v}
        dead = vector_pids & {r[0] for r in conn.execute("SELECT pid FROM tombstones")}
        if dead:
            problems.append(f"{len(dead)} live passages are also tombstoned: {sorted(dead)[:5]}")
        for rowid, doc_id, title, body, digest in rows:
            group = passages.get(rowid, [])
            positions = [p for _, p, _, _ in group]
            if positions != list(range(len(group))) or not group:
                problems.append(f"{doc_id}: passage positions {positions}")
            want = expected.get(doc_id) if expected is not None else None
            vectors = [v for *_, v in group]
            if want is not None:
                want_vectors = want.vectors
            else:
                want_vectors = len(group) if max_passages <= 0 else min(len(group), max_passages)
            if vectors != [True] * want_vectors + [False] * (len(group) - want_vectors):
                problems.append(f"{doc_id}: vectors on passages {vectors}, expected on the first {want_vectors}")
            if expected is not None:
                if want is None:
                    if only_expected_ids:
                        problems.append(f"{doc_id}: not an expected id")
                    continue
                if (title, body) != (want.title, want.body):
                    problems.append(f"{doc_id}: stored title/body differ from the input")
                if want.content_hash and digest != want.content_hash:
                    problems.append(f"{doc_id}: content hash differs from the input's")
                if tuple(t for _, _, t, _ in group) != want.passages:
                    problems.append(f"{doc_id}: {len(group)} passages stored, {len(want.passages)} expected (or texts differ)")
        summary.update(articles=len(rows), passages=sum(len(g) for g in passages.values()), vectors=len(vector_pids),
                       generation=generation)
    finally:
        conn.close()

    manifest_path = index_dir / MANIFEST_NAME
    if not manifest_path.exists():
        if summary["articles"]:
            problems.append("manifest.json missing while articles are committed")
        summary["state"] = "no manifest yet"
        return summary, problems
    try:
        manifest = Manifest.read(index_dir)
    except IndexError_ as exc:
        problems.append(f"manifest: {exc}")
        return summary, problems
    if manifest.snapshot:
        snap = index_dir / manifest.snapshot
        if not snap.exists():
            problems.append(f"manifest points at missing {manifest.snapshot}")
        elif manifest.snapshot_sha256 and sha256_file(snap) != manifest.snapshot_sha256:
            problems.append(f"{manifest.snapshot}: sha256 differs from the manifest's")
    if manifest.snapshot_generation > summary["generation"]:
        problems.append(f"snapshot generation {manifest.snapshot_generation} > database generation {summary['generation']}")
    summary["snapshot_generation"] = manifest.snapshot_generation
    if open_reader:
        from thaigov_search.store.reader import IndexReader

        try:
            reader = IndexReader(index_dir)
        except IndexError_ as exc:
            problems.append(f"the index does not open: {exc}")
            return summary, problems
        faiss_ids = faiss_id_set(reader.index)
        summary["faiss_vectors"] = int(reader.index.ntotal)
        if faiss_ids != vector_pids:
            problems.append(f"FAISS has {len(faiss_ids)} vectors, the database {len(vector_pids)} "
                            f"({len(faiss_ids - vector_pids)} extra, {len(vector_pids - faiss_ids)} missing)")
        close_reader(reader)
    return summary, problems


def faiss_id_set(index) -> set[int]:
    return index.ids()  # store.vectors.LiveVectors: the snapshot + added - removed


def close_reader(reader) -> None:
    conn = getattr(reader._local, "conn", None)
    if conn is not None:
        conn.close()


def reader_problems(searcher, index_dir: Path) -> list[str]:
    """A long-lived reader, refreshed now, must hold exactly the database's vectors."""
    searcher.reader.refresh()
    with ro_connect(index_dir) as conn:
        db = {r[0] for r in conn.execute("SELECT pid FROM passages WHERE vector IS NOT NULL")}
        gen = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
    problems = []
    have = faiss_id_set(searcher.reader.index)
    if have != db:
        problems.append(f"long-lived reader: {len(have - db)} extra and {len(db - have)} missing vectors after refresh")
    if gen and searcher.reader.generation != int(gen[0]):
        problems.append(f"long-lived reader at generation {searcher.reader.generation}, database at {gen[0]}")
    return problems


def child_env(threads: int | None = 1, **settings: object) -> dict[str, str]:
    """Environment for a child `thaigov-search`: THAIGOV_SEARCH_<NAME> settings, torch thread count."""
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)  # a shared 2-core machine: 2 spinning threads per process hurt
    for name, value in settings.items():
        env[f"THAIGOV_SEARCH_{name.upper()}"] = str(value)
    return env


def set_torch_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def leftover_files(index_dir: Path) -> list[str]:
    """Files besides the database, its WAL/SHM, the manifest, the current snapshot and the lock."""
    try:
        current = Manifest.read(index_dir).snapshot
    except IndexError_:
        current = None
    keep = {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", MANIFEST_NAME, ".snapshot.lock", ".writer.lock", current}
    return sorted(p.name for p in Path(index_dir).iterdir() if p.name not in keep)


# ------------------------------------------------------------------------------------ the run
def index_command(index_dir: Path, limit: int, max_passages: int, input_path: Path = DEMO) -> list[str]:
    return [sys.executable, "-m", "thaigov_search.cli", "index", "--input", str(input_path), "--index-dir", str(index_dir),
            "--limit", str(limit), "--max-passages", str(max_passages), "--quiet"]


def run(
    index_dir: Path,
    kills: int = 20,
    limit: int = 60,
    commit_every: int = 2,
    max_passages: int = 1,
    seed: int = 1,
    max_delay: float = 25.0,
    threads: int | None = 1,
    embedder=None,
    round_timeout: float = 300.0,
    log=print,
) -> dict:
    """Kill the indexer ``kills`` times, checking the index after each kill; then finish and check it."""
    from thaigov_search.core.settings import Settings
    from thaigov_search.embedding.embedder import Embedder
    from thaigov_search.indexing.run import run_index
    from thaigov_search.search.searcher import Searcher

    rng = random.Random(seed)
    index_dir = Path(index_dir)
    settings = Settings(max_passages_per_article=max_passages, commit_every=commit_every)
    set_torch_threads(threads)
    if embedder is None:
        embedder = Embedder.from_settings(settings)
    articles = load_articles(DEMO, limit)
    expected = expected_of(articles, embedder, settings)
    env = child_env(threads, commit_every=commit_every)
    log_path = index_dir.parent / f"{index_dir.name}-indexer.log"
    started = time.monotonic()
    rounds: list[dict] = []
    problems: list[str] = []
    long_lived = None
    made = 0
    deleted_for_work = 0
    while made < kills:
        if len(rounds) >= kills * 3:
            problems.append(f"gave up after {len(rounds)} rounds with {made} kills")
            break
        remaining = len(expected) - len(committed_ids(index_dir) & set(expected))
        if remaining == 0:  # nothing left to index: delete a few so the next runs have work
            victims = rng.sample(sorted(expected), min(rng.randint(4, 16), len(expected)))
            run_index([], index_dir, settings, delete_ids=victims, progress=False, embedder=embedder)
            deleted_for_work += len(victims)
            remaining = len(victims)
            log(f"  all indexed; deleted {len(victims)} ids to make more work")
        gen0 = committed_generation(index_dir)
        mode = rng.choice(["delay", "after-commit", "after-commit"])
        if remaining <= 2 * commit_every:
            mode = rng.choice(["near-end", "after-commit", "delay"])
        record: dict = {"round": len(rounds) + 1, "mode": mode, "remaining_before": remaining, "generation_before": gen0}
        with open(log_path, "ab") as fh:
            proc = subprocess.Popen(index_command(index_dir, limit, max_passages), env=env, stdout=fh, stderr=fh,
                                    stdin=subprocess.DEVNULL)
        t0 = time.monotonic()
        deadline = t0 + round_timeout
        if mode == "delay":
            target = t0 + rng.uniform(0.3, max_delay)
            while time.monotonic() < target and proc.poll() is None:
                time.sleep(0.02)
        elif mode == "after-commit":
            commits = rng.randint(1, 3)
            while committed_generation(index_dir) < gen0 + commits and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.03)
            time.sleep(rng.uniform(0.0, 1.5))
            record["after_commits"] = commits
        else:  # near-end: every article committed, the snapshot + manifest are being written now
            while (set(expected) - committed_ids(index_dir)) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
        before = committed_ids(index_dir)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            made += 1
            record["killed_after_s"] = round(time.monotonic() - t0, 2)
        else:
            record["finished_before_kill"] = True
            record["returncode"] = proc.returncode
            if proc.returncode != 0:
                problems.append(f"round {record['round']}: the indexer exited with {proc.returncode} (see {log_path})")
        after = committed_ids(index_dir)
        lost = sorted(before - after)
        summary, round_problems = index_problems(index_dir, expected, max_passages)
        record.update(articles_before_kill=len(before), articles_after=len(after), lost=lost,
                      state=summary["state"], generation_after=summary.get("generation"),
                      snapshot_generation_after=summary.get("snapshot_generation"),
                      leftover=leftover_files(index_dir))
        if lost:
            round_problems.append(f"lost committed articles: {lost}")
        if summary["state"] == "ok":
            searcher = Searcher(index_dir, settings, embedder=embedder)
            hits = searcher.search(CHECK_QUERY, k=5, mode="hybrid").results
            record["search_hits"] = len(hits)
            if after and not hits:
                round_problems.append("a hybrid search over a non-empty index found nothing")
            close_reader(searcher.reader)
            if long_lived is None:
                long_lived = Searcher(index_dir, settings, embedder=embedder)
            round_problems += reader_problems(long_lived, index_dir)
        record["problems"] = round_problems
        problems += [f"round {record['round']}: {p}" for p in round_problems]
        rounds.append(record)
        log(f"round {record['round']:>2} {mode:<12} "
            + (f"killed at {record['killed_after_s']:>6.2f}s" if "killed_after_s" in record else "finished         ")
            + f"  articles {len(before):>3} -> {len(after):>3}  state {summary['state']:<9}"
            + f"  generation {summary.get('generation')} (snapshot {summary.get('snapshot_generation')})"
            + f"  problems {len(round_problems)}")

    # The final run must complete and leave exactly the expected articles.
    with open(log_path, "ab") as fh:
        final = subprocess.run(index_command(index_dir, limit, max_passages), env=env, stdout=subprocess.PIPE, stderr=fh,
                               stdin=subprocess.DEVNULL, timeout=1800)
    summary, final_problems = index_problems(index_dir, expected, max_passages)
    ids = committed_ids(index_dir)
    if final.returncode != 0:
        final_problems.append(f"the final run exited with {final.returncode}")
    if ids != set(expected):
        final_problems.append(f"final ids differ: {len(set(expected) - ids)} missing, {len(ids - set(expected))} extra")
    manifest = Manifest.read(index_dir)
    if (manifest.generation, manifest.snapshot_generation) != (summary.get("generation"),) * 2:
        final_problems.append(f"manifest generation {manifest.generation}/{manifest.snapshot_generation}, "
                              f"database {summary.get('generation')}")
    if (manifest.articles, manifest.passages) != (summary.get("articles"), summary.get("passages")):
        final_problems.append("manifest counts differ from the database's")
    if summary.get("faiss_vectors") != summary.get("vectors"):
        final_problems.append(f"FAISS {summary.get('faiss_vectors')} vectors, database {summary.get('vectors')}")
    if long_lived is not None:
        final_problems += reader_problems(long_lived, index_dir)
    problems += [f"final: {p}" for p in final_problems]
    return {
        "kills": made,
        "rounds": len(rounds),
        "finished_before_kill": sum(1 for r in rounds if r.get("finished_before_kill")),
        "modes": dict(Counter(r["mode"] for r in rounds if "killed_after_s" in r)),
        "expected_articles": len(expected),
        "deleted_to_make_work": deleted_for_work,
        "lost_committed_articles": sum(len(r["lost"]) for r in rounds),
        "final_summary": final.stdout.decode("utf-8", "replace").strip(),
        "final": summary,
        "final_leftover_files": leftover_files(index_dir),
        "problems": problems,
        "seconds": round(time.monotonic() - started, 1),
        "seed": seed,
        "limit": limit,
        "commit_every": commit_every,
        "max_passages": max_passages,
        "rounds_detail": rounds,
    }


def log_stderr(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def finish(result: dict, out: Path | None, as_json: bool, summary: str) -> int:
    """The scripts' common ending: save the JSON (``--out``), print it (``--json``) or the summary line
    and every problem; exit status 1 when there are problems."""
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    if as_json:
        print(text)
    else:
        print(summary)
        for p in result["problems"]:
            print("PROBLEM:", p)
    return 0 if not result["problems"] else 1


def add_noisy_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--noisy", action="store_true",
                        help="keep every core busy with other processes for the whole run (thaigov_search.cli.noisy)")


def noisy_if(flag: bool):
    """The busy neighbour of ``--noisy`` (issue #15: races and starvation show under contention), or nothing."""
    import contextlib

    from thaigov_search.cli.noisy import noisy_neighbour

    return noisy_neighbour() if flag else contextlib.nullcontext()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_noisy_flag(parser)
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs to make (default 20)")
    parser.add_argument("--limit", type=int, default=60, help="articles of the demo sample to index (default 60)")
    parser.add_argument("--commit-every", type=int, default=2)
    parser.add_argument("--max-passages", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=25.0, help="longest random delay of 'delay' kills (s)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (0 = library default)")
    parser.add_argument("--index-dir", type=Path, help="index to build (must not exist; default a temp dir)")
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="thaigov-kill-indexer-") as tmp, noisy_if(args.noisy):
        index_dir = args.index_dir or Path(tmp) / "index"
        if index_dir.exists():
            parser.error(f"{index_dir} exists; give a new directory")
        result = run(index_dir, kills=args.kills, limit=args.limit, commit_every=args.commit_every,
                     max_passages=args.max_passages, seed=args.seed, max_delay=args.max_delay, threads=args.threads or None,
                     log=log_stderr)
    return finish(result, args.out, args.json,
                  f"{result['kills']} kills in {result['rounds']} rounds ({result['modes']}), "
                  f"{result['finished_before_kill']} runs finished first, {result['lost_committed_articles']} committed "
                  f"articles lost, final: {result['final']}, leftover files {result['final_leftover_files']}, "
                  f"{len(result['problems'])} problems, {result['seconds']}s")


if __name__ == "__main__":
    sys.exit(main())
