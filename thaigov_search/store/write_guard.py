"""One writer per index directory at a time, and clear errors when the disk or a file-size limit is hit.

Why an index-wide writer lock (issue #15): two `thaigov-search index` runs on one fresh directory
never deadlocked, but starved each other. Measured on the 2-core machine (docs/reliability.md):
40 releases take 35 s alone; two runs started 3 s apart each ran their own model with its own
torch thread pool on the same two cores and embedded the same articles twice, so neither reached
its first commit (one transaction per 200 articles) for minutes, and with a busy neighbour not at
all within 20 minutes. SQLite's own locking was never the bottleneck (each transaction lasts
milliseconds). Whatever the second run would add, the first adds too (same content hashes), so
running them one after the other loses nothing and does the work once: the second waits here
(logging who holds the lock), then finds the articles already indexed and skips them.

The lock is ``flock`` on ``.writer.lock`` in the index directory: released by the kernel when the
holder exits or is killed (no stale lock after ``kill -9``), and exclusive between open files,
so it also orders writers inside one process. The holder writes its pid and command into the file
so that a waiting run can say whom it waits for.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from thaigov_search.store.schema import IndexError_

logger = logging.getLogger(__name__)

WRITER_LOCK = ".writer.lock"
POLL_SECONDS = 0.1


class IndexBusyError(IndexError_):
    """Another writer holds the index directory's writer lock (and we did not wait, or not long enough)."""


class IndexWriteError(IndexError_):
    """Writing the index failed for lack of space (full disk, file-size limit); what was committed is kept."""


def holder_of(index_dir: Path) -> str:
    """Who holds the writer lock, in words ("pid 1234, `thaigov-search index`, since ...")."""
    try:
        info = json.loads((Path(index_dir) / WRITER_LOCK).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "another process"
    return f"pid {info['pid']} ({info.get('purpose', 'a writer')}, since {info.get('since', '?')})"


@contextlib.contextmanager
def writer_lock(index_dir: Path, purpose: str, wait: float | None = None) -> Iterator[None]:
    """Hold the index directory's writer lock for the block.

    ``wait=None`` waits as long as it takes (a second `index` run), logging once whom it waits for;
    ``wait=0`` refuses at once; ``wait=s`` gives up after ``s`` seconds. Giving up raises
    :class:`IndexBusyError` naming the holder.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / WRITER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not try_lock(fd):
            holder = holder_of(index_dir)
            if wait == 0:
                raise IndexBusyError(
                    f"{index_dir} is being written by {holder}. Wait for it to finish and run this again, "
                    f"or leave out --no-wait to wait for it."
                )
            logger.warning("%s is being written by %s; waiting for it to finish%s", index_dir, holder,
                           "" if wait is None else f" (at most {wait:g} s)")
            deadline = None if wait is None else time.monotonic() + wait
            while not try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise IndexBusyError(f"{index_dir} is being written by {holder_of(index_dir)}")
                time.sleep(POLL_SECONDS)
            logger.warning("%s is free again; going on", index_dir)
        try:
            note = json.dumps({"pid": os.getpid(), "purpose": purpose, "since": time.strftime("%Y-%m-%d %H:%M:%S")})
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode("utf-8"), 0)
        except OSError:  # a full disk must not stop the holder: the note is only for messages
            pass
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


# ------------------------------------------------------------------------------- out of space
WRITE_FAILURES = (OSError, sqlite3.Error, RuntimeError)
"""What a write may raise when the disk fills up: the OS, SQLite and FAISS each report it their way."""


def is_out_of_space(exc: BaseException, index_dir: Path) -> bool:
    """A full disk (ENOSPC), a file-size limit (EFBIG, `ulimit -f`) or a quota (EDQUOT), as any layer reports it.

    SQLite reports EFBIG, and ENOSPC while creating its WAL files, as a bare "disk I/O error"; that
    counts only when space is really short (under 1 MiB free) or a file-size limit is set."""
    for e in iter_causes(exc):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return True
        if isinstance(e, sqlite3.OperationalError) and ("disk is full" in str(e) or (
                "disk I/O error" in str(e) and space_is_short(index_dir))):
            return True
        # FAISS reports a failed fwrite as "write error in <file>: 9955 != 320000 (File too large)"
        if isinstance(e, RuntimeError) and "write error" in str(e) and any(
                os.strerror(n) in str(e) for n in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)):
            return True
    return False


def space_is_short(index_dir: Path) -> bool:
    import resource

    try:
        st = os.statvfs(index_dir)
        if st.f_bavail * st.f_frsize < 1 << 20:
            return True
    except OSError:
        pass
    return resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY


def iter_causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def out_of_space_message(index_dir: Path, exc: BaseException) -> str:
    return (
        f"writing {index_dir} failed: the disk is full or a file-size limit (ulimit -f) was reached ({exc}). "
        "Every batch committed before is kept and searchable. Free some space (or raise the limit) "
        "and run the same command again: it resumes where it stopped."
    )


def ignore_file_size_signal() -> None:
    """Past `ulimit -f` the kernel sends SIGXFSZ, whose default action kills the process with a core
    dump mid-write; ignored, the write fails with EFBIG instead and is reported like a full disk."""
    import signal

    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
