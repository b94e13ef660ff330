"""The ``thaigov-search index`` command: the writer lock, deletions, then the inputs, here or on Ray.

It sits above :mod:`.pipeline` (how one batch is parsed, chunked, embedded and committed) and
:mod:`.distributed` (the same batches prepared on Ray workers), so neither of those imports the other's
caller: the pipeline knows nothing of Ray.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from thaigov_search.core.settings import Settings
from thaigov_search.embedding.embedder import Embedder
from thaigov_search.indexing.duplicates import backfill
from thaigov_search.indexing.pipeline import Indexer, IndexReport
from thaigov_search.indexing.sources import ReadStats, iter_records
from thaigov_search.store.manifest import Manifest

__all__ = ["run_index", "count_records"]


def run_index(
    inputs: Sequence[Path | str],
    index_dir: Path,
    settings: Settings,
    limit: int | None = None,
    delete_ids: Sequence[str] = (),
    progress: bool = True,
    embedder: Embedder | None = None,
    wait: float | None = None,
    ray_address: str | None = None,
) -> IndexReport:
    """The `thaigov-search index` command: deletions first, then the inputs.

    With ``ray_address`` ("auto", "local" or a cluster's address) parsing, chunking and embedding run on
    Ray workers while this process stays the one writer (:mod:`thaigov_search.indexing.distributed`).

    Holds the index directory's writer lock throughout (:mod:`thaigov_search.store.write_guard`): a second run
    waits for it (``wait=None``), refuses at once (``wait=0``) or gives up after ``wait`` seconds.
    A full disk or file-size limit becomes an :class:`IndexWriteError` saying what to do.
    """
    from thaigov_search.store.write_guard import (
        WRITE_FAILURES,
        IndexWriteError,
        is_out_of_space,
        out_of_space_message,
        writer_lock,
    )

    if ray_address is not None:
        from thaigov_search.indexing.distributed import require_ray

        require_ray()  # before anything is locked or read: say how to install it
    try:
        with writer_lock(index_dir, "thaigov-search index", wait=wait):
            return _run_index(inputs, index_dir, settings, limit, delete_ids, progress, embedder, ray_address)
    except WRITE_FAILURES as exc:
        if is_out_of_space(exc, index_dir):
            raise IndexWriteError(out_of_space_message(index_dir, exc)) from exc
        raise


def _run_index(inputs: Sequence[Path | str], index_dir: Path, settings: Settings, limit: int | None,
               delete_ids: Sequence[str], progress: bool, embedder: Embedder | None,
               ray_address: str | None = None) -> IndexReport:
    report = IndexReport()
    indexer = Indexer(index_dir, settings, embedder)
    try:
        if Manifest.exists(index_dir):  # an index from before issues #14 / #11: near-duplicates, title vectors
            backfill(indexer.writer, progress=progress)
            indexer.embed_missing_titles(progress=progress)
        if delete_ids:
            indexer.delete(list(delete_ids), report)
        if inputs:
            stats = ReadStats()
            total = count_records(inputs, limit) if progress else None
            records = iter_records(inputs, stats, limit=limit)
            if ray_address is not None:
                from thaigov_search.indexing.distributed import index_on_ray

                index_on_ray(indexer, records, report, ray_address, total=total, progress=progress)
            else:
                indexer.index_records(records, report, total=total, progress=progress)
            report.skipped += stats.skipped
            report.read += stats.skipped
            report.warnings = stats.warnings + report.warnings
        else:  # no new records: still link the twins an older index (or a crashed run) left unlinked
            indexer.finish(False, progress)
    finally:
        indexer.close()
    return report


def count_records(inputs: Sequence[Path | str], limit: int | None) -> int | None:
    """Cheap pre-count (lines / files) so the progress bar can show an ETA."""
    import gzip
    import lzma

    total = 0
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            total += sum(1 for _ in path.rglob("*.txt"))
            continue
        opener = lzma.open if path.suffix == ".xz" else gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as fh:
                total += sum(1 for line in fh if line.strip())
        except OSError:
            return None
        if limit is not None and total >= limit:
            return limit
    return min(total, limit) if limit is not None else total
