"""Read replicas: several servers answer the same results while one writer changes the index.

docs/scaling.md ("Read replicas") describes the two set-ups tested here:

* on one machine, every `serve` opens the live index directory: each compares the database generation
  before a request and replays what the writer committed (docs/design.md, "Readers during writes");
* on several machines, each serves a symlink to its own copy of a *published snapshot*: the writer's
  index is copied with `thaigov-search backup` (consistent under writes), the copy is shipped to every
  machine, and `thaigov-search switch` points each machine's link at it; `serve` follows the link.

Both servers here are real HTTP servers, each with its own searcher (reader, SQLite connections, FAISS
index, BM25 terms); they share the model object only, to spare memory.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.test_api import NEW_ARTICLE, running
from tests.test_backup_switch import run_cli
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.indexing.run import run_index
from thaigov_search.search.searcher import Searcher

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
QUERIES = ["การประชุมรัฐบาลดิจิทัล", "digital government seminar 2018", "นายกรัฐมนตรี", "เศรษฐกิจ",
           "น้ำประปาพลังงานแสงอาทิตย์ จังหวัดน่าน"]
NEW_QUERY = QUERIES[-1]


def answers(base: str, query: str) -> list[tuple[str, float]]:
    data = httpx.get(f"{base}/search", params={"q": query, "k": 10}, timeout=60).raise_for_status().json()
    return [(r["id"], round(r["score"], 6)) for r in data["results"]]


def all_answers(base: str) -> dict[str, list[tuple[str, float]]]:
    return {q: answers(base, q) for q in QUERIES}


@contextmanager
def servers(links: list[Path], settings: Settings, embedder) -> Iterator[list[str]]:
    """One real HTTP server per index path (a directory or a symlink); their base URLs."""
    app_settings = settings.model_copy(update={"index_watch_s": 0.2, "analytics": False})
    with ExitStack() as stack:
        yield [stack.enter_context(running(create_app(link, app_settings, Searcher(link.resolve(), app_settings,
                                                                                     embedder=embedder))))
               for link in links]


def write_change(index_dir: Path, tmp_path: Path, delete_id: str, settings: Settings, embedder) -> None:
    """The one writer: an `index` run that adds a release and deletes another."""
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps(NEW_ARTICLE, ensure_ascii=False) + "\n", encoding="utf-8")
    report = run_index([new], index_dir, settings, delete_ids=[delete_id], progress=False, embedder=embedder)
    assert (report.indexed, report.deleted) == (1, 1)


def assert_changed_and_identical(bases: list[str], deleted: str) -> None:
    first = all_answers(bases[0])
    for base in bases[1:]:
        assert all_answers(base) == first
    assert first[NEW_QUERY][0][0] == NEW_ARTICLE["id"]
    assert all(deleted not in [i for i, _ in hits] for hits in first.values())


def test_two_servers_on_one_live_index_answer_the_same_after_a_write(
        writable_index: Path, settings: Settings, embedder, tmp_path: Path) -> None:
    with servers([writable_index, writable_index], settings, embedder) as bases:
        before = all_answers(bases[0])
        assert all_answers(bases[1]) == before
        assert NEW_ARTICLE["id"] not in [i for i, _ in before[NEW_QUERY]]
        deleted = before[QUERIES[0]][0][0]

        write_change(writable_index, tmp_path, deleted, settings, embedder)
        assert_changed_and_identical(bases, deleted)


def test_replicas_on_published_snapshots_answer_the_same_once_a_new_one_is_published(
        writable_index: Path, settings: Settings, embedder, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    machines = [tmp_path / "machine-1", tmp_path / "machine-2"]

    def publish(name: str) -> None:
        snapshot = tmp_path / "published" / name
        code, _, err = run_cli(capsys, "backup", "--index-dir", str(writable_index), "--to", str(snapshot))
        assert code == 0, err
        for machine in machines:  # the copy to each machine (rsync/scp in docs/scaling.md)
            shutil.copytree(snapshot, machine / "snapshots" / name)
            code, _, err = run_cli(capsys, "switch", "--link", str(machine / "current"),
                                   "--to", str(machine / "snapshots" / name))
            assert code == 0, err

    publish("gen-1")
    with servers([m / "current" for m in machines], settings, embedder) as bases:
        before = all_answers(bases[0])
        assert all_answers(bases[1]) == before
        deleted = before[QUERIES[0]][0][0]

        write_change(writable_index, tmp_path, deleted, settings, embedder)
        assert all_answers(bases[0]) == before  # a replica serves its snapshot until a new one is published

        publish("gen-2")
        deadline = time.monotonic() + 120
        while not all([i for i, _ in answers(b, NEW_QUERY)[:1]] == [NEW_ARTICLE["id"]] for b in bases):
            assert time.monotonic() < deadline, "a replica never picked up the published snapshot"
            time.sleep(0.2)
        assert_changed_and_identical(bases, deleted)
