"""The indexing run: read → parse → skip unchanged → chunk → embed → commit, batch by batch.

Each batch is committed in one SQLite transaction, so a run killed at any moment keeps every
batch committed before it, and the next run skips those articles (same content hash) and goes
on where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from thaigov_search.core.article import Article, Passage, RawRecord
from thaigov_search.core.settings import Settings
from thaigov_search.core.thai_text import tokenize_for_index
from thaigov_search.embedding.embedder import Embedder
from thaigov_search.indexing.chunking import chunk_article
from thaigov_search.indexing.duplicates import signature_of_tokens
from thaigov_search.indexing.parsing import EmptyArticleError, parse_record
from thaigov_search.indexing.twins import TwinConfig, link_twins, twin_threshold
from thaigov_search.store.manifest import Manifest
from thaigov_search.store.writer import IndexWriter, content_hash

logger = logging.getLogger(__name__)


@dataclass
class IndexReport:
    """What a run did, printed as the summary and returned to callers (API, eval, bench)."""

    read: int = 0
    indexed: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0
    not_found_for_delete: list[str] = field(default_factory=list)
    passages: int = 0
    embedded_passages: int = 0
    tokens: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"read {self.read}, indexed {self.indexed}, unchanged {self.unchanged}, skipped {self.skipped}, "
            f"deleted {self.deleted}, in {self.seconds:.1f}s",
        ]
        if self.indexed:
            rate = self.indexed / self.seconds if self.seconds else 0.0
            lines.append(
                f"embedded {self.embedded_passages} passages ({self.tokens} tokens) of {self.passages}; "
                f"{rate:.1f} articles/s, {self.tokens / max(self.embed_seconds, 1e-9):.0f} tokens/s while embedding"
            )
        elif self.read and self.unchanged == self.read - self.skipped:
            lines.append("nothing to embed: every article is already indexed and unchanged")
        if self.not_found_for_delete:
            lines.append(f"not in the index, nothing deleted: {', '.join(self.not_found_for_delete)}")
        if self.warnings:
            lines.append(f"{len(self.warnings)} warning(s); first: {self.warnings[0]}")
        return "\n".join(lines)


def chunking_key(settings: Settings) -> str:
    """Settings that change passages; part of the content hash so a change re-embeds."""
    return f"tokens={settings.passage_tokens};max_passages={settings.max_passages_per_article}"


@dataclass
class PreparedBatch:
    """A batch parsed, chunked and tokenised for BM25, waiting for its vectors."""

    records: int
    rows: list[tuple[Article, str, list[str], list[str]]]
    passages: list[list[Passage]]
    signatures: list[np.ndarray | None] = field(default_factory=list)  # near-duplicate MinHash per row


@dataclass
class Vectors:
    """An embedded batch: each article's passage vectors (None: none embedded) and its title's vector
    (the headline embedded on its own, mixed into dense scores by search.titles; None: no title)."""

    passages: list[np.ndarray | None]
    titles: list[np.ndarray | None]


def chunk_for_index(article: Article, count_tokens: Callable[[str], int], settings: Settings) -> list[Passage]:
    """Passages exactly as the indexer stores them: every passage is kept (snippets, reading),
    only the first ``max_passages_per_article`` are embedded, so only those are sized exactly."""
    return chunk_article(article, count_tokens, max_tokens=settings.passage_tokens,
                         exact_passages=settings.max_passages_per_article)


class Indexer:
    """Incremental writer shared by the CLI and the HTTP API."""

    def __init__(self, index_dir: Path, settings: Settings, embedder: Embedder | None = None,
                 eager_snapshots: bool = True):
        """``eager_snapshots=False`` (the HTTP write path) lets small writes skip the FAISS snapshot
        until enough has changed (see :meth:`IndexWriter.write_snapshot`); batch runs always write one."""
        self.eager_snapshots = eager_snapshots
        self.index_dir = Path(index_dir)
        self.settings = settings
        self._embedder = embedder
        self._writer: IndexWriter | None = None
        # The vector size of a new index, when a caller knows it without loading the model here
        # (the Ray driver asks its workers, indexing/distributed.py); None: the model says.
        self.dimension: int | None = None

    # The model is loaded only when something must be embedded or a new index created.
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder.from_settings(self.settings)
        return self._embedder

    @property
    def writer(self) -> IndexWriter:
        if self._writer is None:
            if Manifest.exists(self.index_dir):
                manifest = Manifest.read(self.index_dir)
                from thaigov_search.store.manifest import ensure_same_model

                ensure_same_model(manifest, self.settings.model, None, self.index_dir)
                dimension = manifest.dimension
            else:
                dimension = self.dimension or self.embedder.dimension
            self._writer = IndexWriter(
                self.index_dir, self.settings.model, dimension, self.settings.passage_tokens,
                exact_max=self.settings.exact_search_max_passages,
                duplicate_threshold=self.settings.duplicate_threshold,
            )
        return self._writer

    def index_records(self, records: Iterable[RawRecord], report: IndexReport, total: int | None = None,
                      progress: bool = True) -> IndexReport:
        """Index a stream of raw records batch by batch; durable after each batch.

        While batch *i* is embedded (ONNX Runtime and torch release the GIL and use the cores),
        this thread parses, chunks and tokenises batch *i + 1*, then writes batch *i*. A crash
        loses at most the batches not yet committed; the next run redoes them.
        """
        start = time.perf_counter()
        bar = tqdm(total=total, unit="article", desc="indexing", disable=not progress, dynamic_ncols=True,
                   smoothing=0.05)
        pending: tuple[PreparedBatch, Future[Vectors]] | None = None
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="embed") as pool:
                for batch in batched(records, self.settings.commit_every):
                    prepared = self._prepare(self._parse(batch, report), report)
                    future = pool.submit(self._embed, prepared, report)
                    if pending is not None:
                        self._commit(*pending, report=report, bar=bar)
                    pending = (prepared, future)
                if pending is not None:
                    self._commit(*pending, report=report, bar=bar)
                    pending = None
        except BaseException:
            failed = True
            raise
        else:
            failed = False
        finally:
            if pending is not None:
                pending[1].cancel()
            bar.close()
            report.seconds += time.perf_counter() - start
            self.finish(failed, progress)
        return report

    def finish(self, failed: bool, progress: bool = False) -> None:
        """End of a run: English <-> Thai twins of what was committed, then the vector snapshot (if
        anything was opened)."""
        if self._writer is not None:
            if not failed:
                self.link_twins(progress)
            self._final_snapshot(failed)

    def link_twins(self, progress: bool = False) -> int | None:
        """Link the twins the articles written since the last run can change (indexing/twins.py); the
        index's own model compares them, with the threshold checked by eye for it. Returns how many
        twins the re-linked span holds, None when nothing was linked."""
        if not self.settings.link_twins:
            return None
        threshold = twin_threshold(self.settings.model)
        if threshold is None:
            logger.info("English <-> Thai twins are linked with the embedded models only (%s has no checked "
                        "threshold); none linked", self.settings.model)
            return None
        embedder = self.embedder
        linked = link_twins(self.writer, lambda texts: embedder.embed_passages(texts, batch_size=16),
                            TwinConfig(min_cosine=threshold), progress=progress)
        if linked is not None:
            logger.info("English <-> Thai twins: %d in the re-linked span", linked)
        return linked

    def _final_snapshot(self, failed: bool) -> None:
        """Snapshot what was committed; after a failure, try too, but never hide the first error
        (on a full disk the snapshot fails as well; readers then replay from the database)."""
        try:
            self._writer.write_snapshot()
        except Exception as exc:
            if not failed:
                raise
            logger.warning("could not write the vector snapshot after the failure above either: %s", exc)

    def _commit(self, prepared: PreparedBatch, vectors: Future[Vectors], report: IndexReport,
                bar: tqdm) -> None:
        self._write(prepared, vectors.result(), report)
        bar.update(prepared.records)
        bar.set_postfix(indexed=report.indexed, unchanged=report.unchanged, skipped=report.skipped)

    def index_articles(self, articles: Sequence[Article]) -> IndexReport:
        """Index already-parsed articles (the HTTP write path)."""
        report = IndexReport(read=len(articles))
        start = time.perf_counter()
        self._store(list(articles), report)
        self.writer.write_snapshot(force=self.eager_snapshots)
        report.seconds = time.perf_counter() - start
        return report

    def delete(self, ids: Sequence[str], report: IndexReport | None = None) -> IndexReport:
        report = report or IndexReport()
        if not Manifest.exists(self.index_dir):
            report.not_found_for_delete.extend(ids)
            return report
        removed = self.writer.delete(ids)
        report.deleted += len(removed)
        report.not_found_for_delete.extend(i for i in ids if i not in set(removed))
        self.writer.write_snapshot(force=self.eager_snapshots)
        return report

    def _parse(self, batch: list[RawRecord], report: IndexReport) -> tuple[int, list[Article]]:
        articles: dict[str, Article] = {}
        for record in batch:
            report.read += 1
            try:
                article = parse_record(record)
            except EmptyArticleError as exc:
                report.skipped += 1
                note = f"{record.origin}: skipped empty article {record.id!r} ({exc})"
                logger.warning(note)
                report.warnings.append(note)
                continue
            articles[article.id] = article  # a repeated id inside a batch: the last one wins
        return len(batch), list(articles.values())

    def _store(self, articles: list[Article], report: IndexReport) -> None:
        prepared = self._prepare((len(articles), articles), report)
        self._write(prepared, self._embed(prepared, report), report)

    def prepare_records(self, batch: list[RawRecord], report: IndexReport,
                        stored: dict[str, str]) -> PreparedBatch:
        """The writer-free half of a batch (parse, skip unchanged, chunk, tokenise), for a process that
        cannot see the index: ``stored`` holds the stored content hashes of the batch's ids, looked up by
        the writer (a Ray worker, indexing/distributed.py). Embed it with :meth:`embed`."""
        return self._prepare(self._parse(batch, report), report, stored)

    def embed(self, prepared: PreparedBatch, report: IndexReport) -> Vectors:
        return self._embed(prepared, report)

    def commit(self, prepared: PreparedBatch, vectors: Vectors, report: IndexReport) -> None:
        """The writer's half: one transaction, as in :meth:`index_records`."""
        self._write(prepared, vectors, report)

    def _prepare(self, parsed: tuple[int, list[Article]], report: IndexReport,
                 stored: dict[str, str] | None = None) -> PreparedBatch:
        """Skip unchanged articles; chunk and BM25-tokenise the others (CPU work, no model run)."""
        n_records, articles = parsed
        if not articles:
            return PreparedBatch(n_records, [], [])
        key = chunking_key(self.settings)
        digests = {a.id: content_hash(a, key) for a in articles}
        if stored is None:
            stored = self.writer.stored_hashes(list(digests))
        changed = [a for a in articles if stored.get(a.id) != digests[a.id]]
        report.unchanged += len(articles) - len(changed)
        rows = [(a, digests[a.id], tokenize_for_index(a.title), tokenize_for_index(a.body)) for a in changed]
        signatures = [signature_of_tokens(title, body) for _, _, title, body in rows]
        return PreparedBatch(n_records, rows, [self._chunk(a) for a in changed], signatures)

    def _write(self, prepared: PreparedBatch, vectors: Vectors, report: IndexReport) -> None:
        if not prepared.rows:
            return
        self.writer.write_batch(prepared.rows, prepared.passages, vectors.passages, prepared.signatures, vectors.titles)
        report.indexed += len(prepared.rows)
        report.passages += sum(len(p) for p in prepared.passages)

    def _chunk(self, article: Article) -> list[Passage]:
        return chunk_for_index(article, self.embedder.count_tokens, self.settings)

    def _embed(self, prepared: PreparedBatch, report: IndexReport) -> Vectors:
        """Embed the lead passages of each article (all when max_passages_per_article is 0) and each
        title on its own (a second call, so that a passage's vector never depends on titles batched
        with it: onnx-int8 quantises activations per batch)."""
        limit = self.settings.max_passages_per_article
        chosen = [p if limit <= 0 else p[:limit] for p in prepared.passages]
        texts = [p.embed_text for group in chosen for p in group]
        titles = [article.title.strip() for article, *_ in prepared.rows]
        if not texts and not any(titles):  # nothing changed: do not load the model just to embed nothing
            return Vectors([None for _ in chosen], [None for _ in chosen])
        started = time.perf_counter()
        matrix = self._embed_texts(texts)
        title_matrix = self._embed_texts([t for t in titles if t])
        report.embed_seconds += time.perf_counter() - started
        report.embedded_passages += len(texts)
        report.tokens += sum(p.n_tokens for group in chosen for p in group)
        out: list[np.ndarray | None] = []
        offset = 0
        for group in chosen:
            out.append(matrix[offset:offset + len(group)])
            offset += len(group)
        title_vectors: list[np.ndarray | None] = []
        row = 0
        for title in titles:
            title_vectors.append(title_matrix[row] if title else None)
            row += bool(title)
        return Vectors(out, title_vectors)

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        """Passage embeddings of ``texts`` at the run's batch size (an empty matrix for none)."""
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return self.embedder.embed_passages(texts, batch_size=self.settings.batch_size or self.embedder.default_batch_size)

    def embed_missing_titles(self, progress: bool = True) -> int:
        """Embed the titles of articles indexed before title vectors existed (at the start of `index`;
        ~30 tokens each: the 91,686 of the whole corpus took 364 s here, with tests running beside). Returns
        how many."""
        total = 0
        bar = None
        for batch in self.writer.untitled_articles():
            if bar is None:
                logger.info("embedding the titles of articles indexed before title vectors existed")
                bar = tqdm(unit="title", desc="title vectors", disable=not progress, dynamic_ncols=True)
            matrix = self._embed_texts([title for _, title in batch])
            self.writer.add_title_vectors([(rowid, matrix[i]) for i, (rowid, _) in enumerate(batch)])
            total += len(batch)
            bar.update(len(batch))
        if bar is not None:
            bar.close()
        return total

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def batched(items: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
