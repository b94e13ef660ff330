"""Consistent copies of a live index, and switching a served index to a rebuilt one without downtime.

**Backup** (``thaigov-search backup --index-dir DIR --to DEST``) while the server answers and writers
commit. The order is what makes the copy consistent:

1. Under the snapshot lock (the one :meth:`IndexWriter.write_snapshot` takes), read the manifest and
   copy the FAISS snapshot it names: no writer can replace or prune that file meanwhile.
2. Then copy the database with SQLite's online backup API in one step: it reads one committed
   generation (WAL: writers carry on meanwhile), which is at least the snapshot's, because a snapshot
   is only ever written from committed data. A reader of the copy loads the snapshot and replays the
   passages committed after it, as it does on the live index.
3. Copy the analytics file the same way if it lives in the index directory.
4. Check the copy (``quick_check``, the snapshot's sha256), fsync, and only then rename the temporary
   directory to DEST: DEST either does not exist or is a complete index that ``serve`` opens.

**Switching** (``thaigov-search switch --link LINK --to NEWDIR``): serve a symlink (``--index-dir
/srv/thaigov/current``), rebuild into a new directory, then point the link at it. The link is
replaced atomically (a new link renamed over the old one), so anyone resolving it sees the old or the
new directory, never neither. ``serve`` watches its link (``THAIGOV_SEARCH_INDEX_WATCH_S``), opens and
warms the new index beside the old one, and swaps them between two requests (api/index_switch.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from thaigov_search.core.files import file_lock, fsync_dir, sha256_file
from thaigov_search.store.analytics import ANALYTICS_NAME
from thaigov_search.store.manifest import Manifest
from thaigov_search.store.schema import (
    DB_NAME,
    IndexCorruptError,
    IndexError_,
    check_database,
    connect,
    current_generation,
)
from thaigov_search.store.writer import SNAPSHOT_LOCK

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupReport:
    destination: str
    articles: int
    passages: int
    generation: int
    snapshot: str | None
    bytes: int
    seconds: float


def resolve_index(path: Path) -> Path:
    """The directory an index path stands for (following a symlink such as ``current``)."""
    return Path(os.path.realpath(path))


def backup_index(index_dir: Path, dest: Path) -> BackupReport:
    """Copy a (possibly live) index to ``dest``, which must not exist; see the module docstring."""
    started = time.perf_counter()
    source = resolve_index(index_dir)
    Manifest.read(source)  # a clear error for a directory that holds no index
    dest = Path(dest).absolute()
    if dest.exists() or dest.is_symlink():
        raise IndexError_(f"{dest} already exists; a backup goes to a new path (nothing was copied)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        with file_lock(source / SNAPSHOT_LOCK):
            manifest = Manifest.read(source)
            for name, _ in manifest.snapshot_files():  # vectors, BM25 postings, suggestions
                shutil.copyfile(source / name, tmp / name)
        copy_database(source / DB_NAME, tmp / DB_NAME)
        if (source / ANALYTICS_NAME).exists():
            copy_database(source / ANALYTICS_NAME, tmp / ANALYTICS_NAME)
        manifest.write(tmp)
        articles, passages, generation = verify_copy(tmp, manifest)
        for path in tmp.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        fsync_dir(tmp)
        os.rename(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in dest.iterdir())
    return BackupReport(str(dest), articles, passages, generation, manifest.snapshot, size,
                        round(time.perf_counter() - started, 3))


def copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup, all pages in one step: one consistent read of a live WAL database."""
    src = connect(source, readonly=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = WAL")
    finally:
        dst.close()
        src.close()


def verify_copy(directory: Path, manifest: Manifest) -> tuple[int, int, int]:
    """The copy's database passes ``quick_check`` and its snapshot files their checksums; (articles, passages, generation)."""
    for name, digest in manifest.snapshot_files():
        if digest and sha256_file(directory / name) != digest:
            raise IndexCorruptError(f"the copied snapshot file {name} does not match its checksum; nothing was kept")
    conn = connect(directory / DB_NAME, readonly=True)
    try:
        check_database(conn, directory / DB_NAME)
        articles, passages = conn.execute("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages)").fetchone()
        generation = current_generation(conn)
    finally:
        conn.close()
    if generation < manifest.snapshot_generation:
        raise IndexCorruptError(f"the copied database (generation {generation}) is older than its snapshot "
                                f"({manifest.snapshot_generation}); nothing was kept")
    return int(articles), int(passages), generation


def switch_index(link: Path, target: Path) -> Path | None:
    """Point the symlink ``link`` at the index in ``target`` atomically; returns what it pointed at before."""
    link = Path(link).absolute()
    target = resolve_index(target)
    Manifest.read(target)
    conn = connect(target / DB_NAME, readonly=True)
    try:
        check_database(conn, target / DB_NAME)
    finally:
        conn.close()
    previous = None
    if link.is_symlink():
        previous = resolve_index(link)
    elif link.exists():
        raise IndexError_(
            f"{link} is a real directory, not a link; move it (mv {link} {link}-1) and run "
            f"`thaigov-search switch --link {link} --to {link}-1` once, then serve {link}")
    tmp = link.parent / f".{link.name}.switch-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)
    logger.info("%s now points at %s (was %s)", link, target, previous)
    return previous
