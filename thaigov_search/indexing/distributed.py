"""Indexing on a Ray cluster (``thaigov-search index --ray auto|ADDRESS --workers N``).

Ray workers parse, chunk, BM25-tokenise and embed; this process (the Ray *driver*) stays the index's
one writer. Every guarantee of the single-machine run therefore holds unchanged, because the
writing is the same code in the same process:

* the driver holds ``.writer.lock`` for the whole run (:func:`run.run_index`);
* it reads the records, looks up the stored content hashes of each batch's ids (one indexed query)
  and sends the batch *with* those hashes to a worker, so a worker skips unchanged articles without
  seeing the index (a rerun after a crash embeds nothing already committed);
* a worker returns ``(PreparedBatch, vectors, partial report)``: the articles, their passages and
  BM25 tokens, the vectors. It runs :meth:`Indexer.prepare_records` and :meth:`Indexer.embed`,
  the very functions of the local run (no copy of them here);
* the driver commits the results **in input order**, one SQLite transaction per batch
  (:meth:`Indexer.commit`), exactly as today; at the end it writes the FAISS snapshot.

Failures. A worker process that dies (``kill -9``, the OOM killer, a lost node) is restarted by Ray
and the batches it held are run again (``max_restarts`` / ``max_task_retries`` =
``settings.ray_retries``); the driver waits for results in order, so nothing is skipped and, as
every batch is committed once by the one writer, nothing is written twice. A killed driver loses
only its uncommitted batches (at most ``workers * ray_batches_in_flight`` of them); its workers
die with it (they are owned by the driver), and the rerun skips every committed article by its
content hash, like the local run.

Why actors and not Ray Data: each worker loads the model once and keeps it; the driver decides
what runs where, keeps at most ``ray_batches_in_flight`` batches per worker queued (back-pressure
without a streaming executor) and gets results in order, and no progress bars or executor logs of
Ray Data reach the console.

Ray is an optional extra (``pip install 'thaigov-search[ray]'``); this module imports it only when
``--ray`` is given, and says how to install it when it is missing.
"""

from __future__ import annotations

import logging
import os
import socket
import textwrap
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from thaigov_search.core.article import RawRecord
from thaigov_search.core.settings import Settings
from thaigov_search.indexing.pipeline import Indexer, IndexReport, PreparedBatch, batched

logger = logging.getLogger(__name__)

INSTALL_HINT = ("`index --ray` needs Ray, an optional extra that is not installed: pip install 'thaigov-search[ray]' "
                "(or pip install 'ray>=2.9') on this machine and every node of the cluster; without --ray the "
                "index is built on this machine alone")
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024  # a batch of 200 articles is ~2 MB of text and vectors


class RayUnavailableError(ValueError):
    """``--ray`` without Ray installed (a ValueError, so the CLI prints it as a usage error)."""


def require_ray() -> Any:
    """The ``ray`` module, or a :class:`RayUnavailableError` that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(INSTALL_HINT) from exc
    return ray


# ------------------------------------------------------------------------------------- the cluster
def connect(address: str, settings: Settings) -> bool:
    """Join (or start) a Ray cluster quietly; True when this call did (the caller then shuts it down).

    ``address``: ``auto`` joins the cluster running on this machine (``ray start --head``, or
    ``RAY_ADDRESS``) and else starts a local one; ``local`` always starts a local one; anything else is
    a cluster's address (``HOST:6379`` or ``ray://HOST:10001``). Ray's own logs and the workers'
    output stay out of the console (they are in Ray's session log directory).
    """
    ray = require_ray()
    if ray.is_initialized():
        return False  # the caller (a test, a notebook) is connected already
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage-stats banner, nothing sent anywhere
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address not in ("auto", "local"):
        ray.init(address=address, **quiet)
        return True
    if address == "auto":
        try:
            ray.init(address="auto", **quiet)
            return True
        except ConnectionError:
            logger.info("no Ray cluster running on this machine; starting a local one")
    cpus = (settings.ray_workers or 0) * settings.ray_worker_cpus or None  # None: all of this machine's
    ray.init(num_cpus=int(cpus) if cpus else None, include_dashboard=False,
             object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
    return True


def route_ray_messages_to_logging(ray: Any) -> None:
    """Ray's driver prints the cluster's error events (a worker died, its task is retried) to *stdout*,
    where they would mix with ``--json`` output; send them to this module's logger (stderr, WARNING)
    instead. Ray has no switch for it, so its printing function is replaced when it exists."""
    worker = getattr(getattr(ray, "_private", None), "worker", None)
    if worker is None or not hasattr(worker, "print_to_stdstream"):
        return

    def log_lines(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        for line in data.get("lines", []):
            logger.warning("Ray (%s): %s", data.get("pid", "?"), textwrap.shorten(str(line), 400))
            logger.debug("Ray (%s), in full: %s", data.get("pid", "?"), line)

    worker.print_to_stdstream = log_lines


def fitting_workers(settings: Settings, resources: dict[str, float]) -> int:
    """How many workers of ``settings.ray_worker_cpus`` CPUs (and GPUs) the cluster holds."""
    fits = int(resources.get("CPU", 0) // settings.ray_worker_cpus)
    if settings.ray_worker_gpus:
        fits = min(fits, int(resources.get("GPU", 0) // settings.ray_worker_gpus))
    return fits


# ------------------------------------------------------------------------------------- the workers
class BatchWorker:
    """One Ray actor: the model loaded once, then batch after batch (never the index)."""

    def __init__(self, settings: Settings, threads: int):
        logging.basicConfig(level=logging.WARNING)
        from thaigov_search.embedding.embedder import quiet_libraries
        from thaigov_search.embedding.onnx.runtime import THREADS_ENV

        quiet_libraries()
        os.environ.setdefault(THREADS_ENV, str(threads))  # ONNX Runtime: the CPUs this worker reserved
        self.indexer = Indexer(Path("."), settings)  # its writer is never opened: the driver writes
        embedder = self.indexer.embedder  # loaded now, so ready() answers once the worker can work
        if settings.backend == "torch":
            import torch

            torch.set_num_threads(threads)
        self.dimension = embedder.dimension

    def ready(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "host": socket.gethostname(), "dimension": self.dimension}

    def work(self, batch: list[RawRecord], stored: dict[str, str]) -> tuple[PreparedBatch, list, IndexReport]:
        report = IndexReport()
        prepared = self.indexer.prepare_records(batch, report, stored)
        return prepared, self.indexer.embed(prepared, report), report


@dataclass
class WorkerInfo:
    pid: int
    host: str
    dimension: int


class WorkerPool:
    """``n`` :class:`BatchWorker` actors on the connected cluster, restarted (and their batches retried)
    up to ``settings.ray_retries`` times each."""

    def __init__(self, settings: Settings, workers: int | None = None):
        ray = require_ray()
        route_ray_messages_to_logging(ray)
        self.ray = ray
        self.settings = settings
        resources = ray.cluster_resources()
        fits = fitting_workers(settings, resources)
        n = workers or settings.ray_workers or fits
        if n < 1 or n > fits:
            raise ValueError(
                f"the Ray cluster has {resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs: "
                f"{n or 1} worker(s) of {settings.ray_worker_cpus:g} CPU and {settings.ray_worker_gpus:g} GPU "
                f"do not fit; use --workers {max(fits, 1)} or fewer, or add nodes")
        threads = max(1, int(settings.ray_worker_cpus))
        actor = ray.remote(num_cpus=settings.ray_worker_cpus, num_gpus=settings.ray_worker_gpus,
                           max_restarts=settings.ray_retries, max_task_retries=settings.ray_retries)(BatchWorker)
        self.actors = [actor.remote(settings, threads) for _ in range(n)]
        self.workers = self.info(waiting=True)
        dims = {w.dimension for w in self.workers}
        if len(dims) != 1:
            raise ValueError(f"the Ray workers load models of different sizes {sorted(dims)}; install the same "
                             f"thaigov-search and model on every node")
        self.dimension = dims.pop()
        logger.info("%d Ray workers ready: %s", n, ", ".join(f"{w.host}:{w.pid}" for w in self.workers))

    def info(self, waiting: bool = False) -> list[WorkerInfo]:
        """Where each worker runs now (a restarted worker has a new pid). ``waiting``: say every minute
        what is awaited (each worker loads the model; on a busy cluster it waits for free CPUs)."""
        refs = [a.ready.remote() for a in self.actors]
        started = time.monotonic()
        while waiting:
            ready, pending = self.ray.wait(refs, num_returns=len(refs), timeout=60)
            if not pending:
                break
            free = self.ray.available_resources().get("CPU", 0)
            logger.warning("%d of %d Ray workers ready after %.0f s (each loads the model; the cluster has %g "
                           "CPUs free)", len(ready), len(refs), time.monotonic() - started, free)
        return [WorkerInfo(**d) for d in self.ray.get(refs)]

    def index(self, indexer: Indexer, records: Iterable[RawRecord], report: IndexReport, total: int | None = None,
              progress: bool = True) -> IndexReport:
        """Index ``records`` through the workers, committing each batch here, in input order."""
        ray = self.ray
        indexer.dimension = self.dimension  # a new index gets its size from the workers' model
        n = len(self.actors)
        queued = [0] * n
        in_flight: deque[tuple[int, int, Any]] = deque()  # (records, worker, result ref), in input order
        start = time.perf_counter()
        bar = tqdm(total=total, unit="article", desc=f"indexing on {n} Ray worker{'s' if n > 1 else ''}",
                   disable=not progress, dynamic_ncols=True, smoothing=0.05)

        def commit_oldest() -> None:
            count, worker, ref = in_flight.popleft()
            prepared, vectors, part = ray.get(ref)
            queued[worker] -= 1
            indexer.commit(prepared, vectors, report)
            add_worker_report(report, part)
            bar.update(count)
            bar.set_postfix(indexed=report.indexed, unchanged=report.unchanged, skipped=report.skipped)

        failed = True
        try:
            for batch in batched(records, indexer.settings.commit_every):
                stored = indexer.writer.stored_hashes(list({r.id for r in batch}))
                worker = min(range(n), key=queued.__getitem__)
                in_flight.append((len(batch), worker, self.actors[worker].work.remote(batch, stored)))
                queued[worker] += 1
                if len(in_flight) >= n * self.settings.ray_batches_in_flight:
                    commit_oldest()
            while in_flight:
                commit_oldest()
            failed = False
        finally:
            for _, _, ref in in_flight:
                try:
                    ray.cancel(ref)
                except Exception:  # already finished, or its worker gone with the cluster
                    pass
            bar.close()
            report.seconds += time.perf_counter() - start
            indexer.finish(failed, progress)
        return report

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


def add_worker_report(report: IndexReport, part: IndexReport) -> None:
    """Add what a worker counted (records read, skipped, unchanged, embedding work) to the run's report;
    ``indexed`` and ``passages`` are counted by the commit itself. ``embed_seconds`` adds up worker time."""
    report.read += part.read
    report.unchanged += part.unchanged
    report.skipped += part.skipped
    report.embedded_passages += part.embedded_passages
    report.tokens += part.tokens
    report.embed_seconds += part.embed_seconds
    report.warnings.extend(part.warnings)


def index_on_ray(indexer: Indexer, records: Iterable[RawRecord], report: IndexReport, address: str,
                 total: int | None = None, progress: bool = True) -> IndexReport:
    """The Ray half of :func:`run.run_index`: connect, start the workers, index, let go of the cluster."""
    ray = require_ray()
    started = connect(address, indexer.settings)
    try:
        pool = WorkerPool(indexer.settings)
        try:
            return pool.index(indexer, records, report, total=total, progress=progress)
        finally:
            pool.close()
    finally:
        if started:
            ray.shutdown()
