"""Backups of a live index under writes, and switching a served index to a rebuilt one under load."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.test_api import NEW_ARTICLE, client_for, running
from thaigov_search import cli
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.indexing.parsing import article_from_fields
from thaigov_search.indexing.pipeline import Indexer
from thaigov_search.search.searcher import Searcher
from thaigov_search.store.backup import switch_index
from thaigov_search.store.manifest import Manifest
from thaigov_search.store.schema import DB_NAME, IndexError_

pytestmark = pytest.mark.usefixtures("one_torch_thread")
QUERIES = ["การประชุมรัฐบาลดิจิทัล", "digital government seminar 2018", "นายกรัฐมนตรี", "เศรษฐกิจ"]


def flood_release(n: int):
    return article_from_fields(f"flood-{n:03d}", {
        "title": f"รัฐบาลช่วยเหลือผู้ประสบภัยน้ำท่วม ครั้งที่ {n}",
        "body": f"นายกรัฐมนตรีสั่งการให้หน่วยงานเร่งช่วยเหลือผู้ประสบภัยน้ำท่วมในพื้นที่ที่ {n} "
                "พร้อมส่งถุงยังชีพ เรือ และน้ำดื่มเข้าพื้นที่ และเปิดศูนย์พักพิงชั่วคราว",
        "date": "2024-09-10", "category": "ด้านสังคม"})


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ids(client: httpx.Client, query: str) -> list[str]:
    data = client.get("/search", params={"q": query, "k": 10}).raise_for_status().json()
    return [r["id"] for r in data["results"]]


def rows_per_article(db: Path) -> dict[str, tuple[int, int]]:
    """id → (passages, passages with a vector) in one database: half-copied articles would show here."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0]: (row[1], row[2]) for row in conn.execute(
            "SELECT a.id, count(p.pid), count(p.vector) FROM articles a LEFT JOIN passages p ON p.article_rowid = a.rowid "
            "GROUP BY a.id")}
    finally:
        conn.close()


# ----------------------------------------------------------------------------------- backup
def test_a_backup_taken_under_writes_is_a_complete_index_that_answers_the_same(
        writable_index: Path, settings: Settings, embedder, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    before = len(rows_per_article(writable_index / DB_NAME))
    app_settings = settings.model_copy(update={"analytics": False})
    writing = threading.Event()
    written: list[str] = []

    def writer() -> None:  # another writer committing and replacing FAISS snapshots all along
        indexer = Indexer(writable_index, app_settings, embedder=embedder, eager_snapshots=True)
        try:
            n = 0
            while writing.is_set():
                n += 1
                indexer.index_articles([flood_release(n)])
                written.append(f"flood-{n:03d}")
        finally:
            indexer.close()

    server_searcher = Searcher(writable_index, app_settings, embedder=embedder)
    with client_for(create_app(writable_index, app_settings, server_searcher)) as live:
        writing.set()
        thread = threading.Thread(target=writer)
        thread.start()
        backups = []
        try:
            while len(written) < 1:
                time.sleep(0.05)
            for n in range(3):  # several copies, so some land between a commit and its snapshot
                dest = tmp_path / f"backup-{n}"
                code, out, err = run_cli(capsys, "backup", "--index-dir", str(writable_index), "--to", str(dest), "--json")
                assert code == 0, err
                backups.append((dest, json.loads(out)))
                assert live.get("/search", params={"q": "น้ำท่วม"}).status_code == 200  # the server answers throughout
        finally:
            writing.clear()
            thread.join()
        final = tmp_path / "backup-final"
        assert run_cli(capsys, "backup", "--index-dir", str(writable_index), "--to", str(final))[0] == 0
        live_answers = {q: ids(live, q) for q in QUERIES + ["น้ำท่วม"]}

    source_rows = rows_per_article(writable_index / DB_NAME)
    assert len(source_rows) == before + len(written)
    for dest, report in backups:
        copied = rows_per_article(dest / DB_NAME)
        assert report["articles"] == len(copied) and before < len(copied) <= len(source_rows)
        assert {a: source_rows[a] for a in copied} == copied, "an article was copied without all its passages"
        manifest = Manifest.read(dest)
        assert (dest / manifest.snapshot).exists() and report["generation"] >= manifest.snapshot_generation
        assert not list(tmp_path.glob(".backup-*"))  # no partial directory left behind
        # `stats` opens the copy (reads the snapshot, replays what was committed after it)
        code, out, _ = run_cli(capsys, "stats", "--index-dir", str(dest), "--json")
        assert code == 0 and json.loads(out)["articles"] == len(copied)

    # `serve` opens the quiescent copy, loading it in the background, and gives the live server's answers
    with client_for(create_app(final, app_settings.model_copy(update={"index_watch_s": 60}))) as copy:
        deadline = time.monotonic() + 300
        while copy.get("/health").status_code != 200:
            assert time.monotonic() < deadline, copy.get("/health").text
            time.sleep(0.2)
        assert {q: ids(copy, q) for q in live_answers} == live_answers


def test_a_backup_never_overwrites(sample_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dest = tmp_path / "existing"
    dest.mkdir()
    (dest / "keep.txt").write_text("precious")
    code, _, err = run_cli(capsys, "backup", "--index-dir", str(sample_index), "--to", str(dest))
    assert code == 2 and "already exists" in err
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    code, _, err = run_cli(capsys, "backup", "--index-dir", str(tmp_path / "nothing"), "--to", str(tmp_path / "b"))
    assert code == 2 and "No index" in err and not (tmp_path / "b").exists()


# ----------------------------------------------------------------------------------- switch
@pytest.fixture()
def two_indexes(sample_index: Path, settings: Settings, embedder, tmp_path: Path) -> tuple[Path, Path, Path]:
    """``current`` → ``index-a`` (the sample); ``index-b`` is a rebuild with one more release."""
    index_a, index_b = tmp_path / "index-a", tmp_path / "index-b"
    shutil.copytree(sample_index, index_a)
    shutil.copytree(sample_index, index_b)
    indexer = Indexer(index_b, settings, embedder=embedder)
    try:
        indexer.index_articles([article_from_fields(NEW_ARTICLE["id"], {k: v for k, v in NEW_ARTICLE.items() if k != "id"})])
    finally:
        indexer.close()
    current = tmp_path / "current"
    switch_index(current, index_a)
    return current, index_a, index_b


def test_switching_the_served_index_under_load_answers_every_request(
        two_indexes: tuple[Path, Path, Path], settings: Settings, embedder, capsys: pytest.CaptureFixture) -> None:
    current, index_a, index_b = two_indexes
    app_settings = settings.model_copy(update={"index_watch_s": 0.2, "analytics": False})
    answers: list[tuple[float, float, int, bool]] = []  # (sent, answered, status, new release found)
    stop = threading.Event()

    def client(base: str, query: str) -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    response = c.get("/search", params={"q": query, "k": 10})
                    found = response.status_code == 200 and NEW_ARTICLE["id"] in [r["id"] for r in response.json()["results"]]
                    answers.append((sent, time.monotonic(), response.status_code, found))
                except httpx.HTTPError as exc:  # a refused or dropped connection is an error too
                    answers.append((sent, time.monotonic(), -1, False))
                    print(exc)

    searcher = Searcher(index_a, app_settings, embedder=embedder)
    with running(create_app(current, app_settings, searcher)) as base:
        query = "น้ำประปาพลังงานแสงอาทิตย์ จังหวัดน่าน"
        workers = [threading.Thread(target=client, args=(base, query)) for _ in range(3)]
        for w in workers:
            w.start()
        try:
            time.sleep(1.0)
            code, out, err = run_cli(capsys, "switch", "--link", str(current), "--to", str(index_b))
            assert code == 0, err
            switched = time.monotonic()
            deadline = switched + 120
            while not any(found for *_, found in answers):
                assert time.monotonic() < deadline, "the server never served the switched-in index"
                time.sleep(0.1)
            time.sleep(1.0)  # and keep the load on a moment after
        finally:
            stop.set()
            for w in workers:
                w.join()
        # the whole service now reads the new index
        assert httpx.get(f"{base}/stats").json()["articles"] == len(rows_per_article(index_b / DB_NAME))

    statuses = Counter(status for _, _, status, _ in answers)
    assert statuses == {200: len(answers)}, statuses
    before = [found for _, answered, _, found in answers if answered < switched]
    assert before and not any(before), "index-a has no such release"
    first_new = min(answered for _, answered, _, found in answers if found)
    after = [found for sent, _, _, found in answers if sent > first_new]
    assert after and all(after), "once switched, always the new index"
    assert current.resolve() == index_b.resolve()


def test_switch_refuses_what_is_not_an_index_and_keeps_the_link(two_indexes: tuple[Path, Path, Path],
                                                                 tmp_path: Path) -> None:
    current, index_a, _ = two_indexes
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IndexError_, match="No index"):
        switch_index(current, empty)
    assert current.resolve() == index_a.resolve()
    with pytest.raises(IndexError_, match="real directory"):
        switch_index(index_a, empty.parent / "index-b")
