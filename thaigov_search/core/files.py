"""File-system helpers shared by the three things that build files others read at the same time.

The index store (manifest, vector snapshots), the default-model builder and the ONNX exporter all
need the same three guarantees: a reader sees the old file or the new one, never half of one
(:func:`atomic_write_text`); concurrent builders build once (:func:`build_once`, an exclusive
``flock`` then a re-check); and a file's identity is its sha256 (:func:`sha256_file`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file + fsync + rename so readers see the old or the new file, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the duration of the block."""
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def build_once(lock_path: Path, is_done: Callable[[], bool], build: Callable[[], None]) -> None:
    """Run ``build`` under the lock unless ``is_done()``; other processes block, then find it done.

    ``is_done`` is asked again after the lock is taken: another process may have finished the
    build while this one waited.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(lock_path):
        if not is_done():
            build()


def write_records_jsonl(records: Iterable[Any], path: Path) -> None:
    """Dataclass records as JSONL (Thai as is), e.g. adapt's twins and training pairs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(dataclasses.asdict(r), ensure_ascii=False) + "\n")


def read_records_jsonl(path: Path, cls: type[T]) -> list[T]:
    """The records :func:`write_records_jsonl` wrote, as ``cls`` (JSON lists back to tuples)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            out.append(cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}))
    return out
