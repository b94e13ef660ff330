"""Reading input records: JSON Lines (plain, .xz, .gz) and directories of raw ``.txt`` files.

Two JSONL layouts are recognised per line:

* the shared corpus format ``{"id", "text"[, "url", "source"]}`` -> ``RawRecord(text=...)``;
* generic articles ``{"id", "title"/"body"[, "date", "category", "url"]}`` -> ``RawRecord(fields=...)``.

Bad lines (not JSON, not an object, bad UTF-8, no id, neither layout) are skipped: counted in
:class:`ReadStats` and logged with ``file:line`` and the reason. Lines are read as bytes and
decoded one by one, so a broken byte sequence costs only its own line.

Empty articles (no title and no body) are *not* detected here: a record with an empty ``text``
passes through, and :func:`thaigov_search.indexing.parsing.parse_record` raises ``EmptyArticleError`` for it, which
the pipeline counts as skipped.
"""

from __future__ import annotations

import bz2
import gzip
import json
import logging
import lzma
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from thaigov_search.core.article import RawRecord

log = logging.getLogger(__name__)

__all__ = ["ReadStats", "iter_records", "MAX_STORED_WARNINGS"]

MAX_STORED_WARNINGS = 1000
_GENERIC_KEYS = ("title", "body", "date", "category", "url", "language")


@dataclass
class ReadStats:
    """Counters for one read: good records, skipped lines, and (capped) warning messages."""

    read: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    n_warnings: int = 0  # all warnings, including those not stored

    def warn(self, message: str) -> None:
        """Log ``message`` and keep it (up to :data:`MAX_STORED_WARNINGS` are stored)."""
        self.n_warnings += 1
        if len(self.warnings) < MAX_STORED_WARNINGS:
            self.warnings.append(message)
        log.warning("%s", message)

    def skip(self, where: str, reason: str) -> None:
        """Count a skipped input line/file and warn about it."""
        self.skipped += 1
        self.warn(f"{where}: skipped: {reason}")


def _open_binary(path: Path) -> IO[bytes]:
    """Open ``path`` for binary reading, decompressing xz/gzip/bz2 (detected by magic bytes)."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return cast(IO[bytes], lzma.open(path, "rb"))
    if magic.startswith(b"\x1f\x8b"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    if magic.startswith(b"BZh"):
        return cast(IO[bytes], bz2.open(path, "rb"))
    return open(path, "rb")


def _record_from_obj(obj: object, origin: str) -> tuple[RawRecord | None, str]:
    """A RawRecord from one decoded JSON value, or (None, reason)."""
    if not isinstance(obj, dict):
        return None, f"not a JSON object ({type(obj).__name__})"
    rid = obj.get("id")
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        return None, "missing id"
    if not isinstance(rid, (str, int)) or isinstance(rid, bool):
        return None, f"id is not a string ({type(rid).__name__})"
    rid = str(rid).strip()
    url = obj.get("url")
    url = url.strip() if isinstance(url, str) else ""
    source = obj.get("source")
    source = source.strip() if isinstance(source, str) else ""
    text = obj.get("text")
    if isinstance(text, str):
        return RawRecord(id=rid, origin=origin, text=text, url=url, source=source), ""
    if "title" in obj or "body" in obj:
        fields = {k: ("" if obj[k] is None else str(obj[k])) for k in _GENERIC_KEYS if k in obj}
        return RawRecord(id=rid, origin=origin, fields=fields, url=url), ""
    if text is not None:
        return None, f"'text' is not a string ({type(text).__name__})"
    return None, "neither 'text' nor 'title'/'body'"


def _iter_jsonl(path: Path, stats: ReadStats) -> Iterator[RawRecord]:
    name = path.name
    with _open_binary(path) as f:
        lineno = 0
        while True:
            try:
                raw = f.readline()
            except (EOFError, OSError, lzma.LZMAError) as e:
                stats.skip(f"{name}:{lineno + 1}", f"unreadable/truncated compressed data ({e})")
                return
            if not raw:
                return
            lineno += 1
            where = f"{name}:{lineno}"
            if not raw.strip():
                continue  # blank line: not a record
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                stats.skip(where, f"bad UTF-8 at byte {e.start}")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                stats.skip(where, f"not JSON ({e.msg})")
                continue
            rec, reason = _record_from_obj(obj, where)
            if rec is None:
                stats.skip(where, reason)
                continue
            yield rec


def _txt_id(root: Path, path: Path) -> str:
    """Stable id of a ``.txt`` file: its path relative to ``root``, no suffix, '/' -> '_'."""
    rel = path.relative_to(root).with_suffix("")
    return "_".join(rel.parts)


def _iter_txt_file(root: Path, path: Path, stats: ReadStats) -> Iterator[RawRecord]:
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        stats.skip(where, f"unreadable ({e})")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        stats.skip(where, f"bad UTF-8 at byte {e.start}")
        return
    yield RawRecord(id=_txt_id(root, path), origin=where, text=text, source=path.name)


def _iter_dir(root: Path, stats: ReadStats) -> Iterator[RawRecord]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".txt")
    if not files:
        stats.warn(f"{root}: no .txt files found")
    for p in files:
        yield from _iter_txt_file(root, p, stats)


def _is_jsonl(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in (".xz", ".gz", ".bz2"):
        suffixes.pop()
    return bool(suffixes) and suffixes[-1] in (".jsonl", ".json", ".ndjson")


def iter_records(
    paths: Sequence[Path | str], stats: ReadStats, limit: int | None = None
) -> Iterator[RawRecord]:
    """Yield records from JSONL files (``.jsonl``, ``.jsonl.xz``, ``.jsonl.gz``), raw ``.txt``
    files and directories of ``.txt`` files (read recursively, in sorted order).

    A directory's ``.txt`` files are raw thaigov releases; their id is the path relative to the
    directory without the suffix, with '/' replaced by '_'. Bad lines are skipped and counted in
    ``stats``; ``stats.read`` counts the records yielded. ``limit`` stops after that many good
    records. Raises FileNotFoundError for a missing path and ValueError for an unsupported file
    type (both before anything is read).
    """
    resolved: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise FileNotFoundError(f"input not found: {path}")
        if path.is_file() and not (_is_jsonl(path) or path.suffix.lower() == ".txt"):
            raise ValueError(f"unsupported input file {path}: expected .jsonl[.xz|.gz], .txt or a directory")
        resolved.append(path)
    return _iter_paths(resolved, stats, limit)  # checked eagerly, read lazily


def _iter_paths(paths: list[Path], stats: ReadStats, limit: int | None) -> Iterator[RawRecord]:
    if limit is not None and limit <= 0:
        return
    n = 0
    for path in paths:
        if path.is_dir():
            it = _iter_dir(path, stats)
        elif path.suffix.lower() == ".txt":
            it = _iter_txt_file(path.parent, path, stats)
        else:
            it = _iter_jsonl(path, stats)
        for rec in it:
            stats.read += 1
            n += 1
            yield rec
            if limit is not None and n >= limit:
                return
