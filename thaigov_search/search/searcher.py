"""The read path: a query in, ranked articles with snippets out (dense, lexical or hybrid)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from thaigov_search.core.article import Article
from thaigov_search.core.filters import Filters
from thaigov_search.core.modes import MODES
from thaigov_search.core.settings import Settings
from thaigov_search.core.thai_text import tokenize_for_index
from thaigov_search.embedding.embedder import Embedder
from thaigov_search.search.fusion import hybrid_ranking
from thaigov_search.search.lexical import make_lexical_engine
from thaigov_search.search.lexical.terms import QueryTerms, query_terms
from thaigov_search.search.results import SearchResponse, SearchResult
from thaigov_search.search.snippets import make_snippet, term_hits
from thaigov_search.store import queries
from thaigov_search.store.reader import IndexReader
from thaigov_search.store.schema import (
    IndexCorruptError,
    ModelMismatchError,
    current_generation,
)

logger = logging.getLogger(__name__)

CANDIDATES = 100  # documents each retriever contributes before fusion
PASSAGES_PER_DOC = 4  # at most this many dense passages fetched per wanted document (articles have several)


def snippet_passage(passages: list[tuple[int, str]], terms: set[str], best_pid: int | None) -> str:
    """The passage to show: the best dense passage, unless it lacks every query term and another has some."""
    if not passages:
        return ""
    chosen = next((t for p, t in passages if p == best_pid), None)
    if chosen is None or (terms and term_hits(chosen, terms) == 0):
        best_lexical = max((term_hits(t, terms), -i, t) for i, (_, t) in enumerate(passages))
        if chosen is None or best_lexical[0] > 0:
            chosen = best_lexical[2]
    return chosen


class Searcher:
    """Answers queries over one index directory; safe to share between threads."""

    def __init__(self, index_dir: Path, settings: Settings, embedder: Embedder | None = None, verify: bool = True):
        self.settings = settings
        self.reader = IndexReader(Path(index_dir), verify=verify)
        model = self.reader.manifest.model
        if settings.model != model and settings.model != "default" and embedder is None:
            raise ModelMismatchError(
                f"{index_dir} was built with model '{model}', not '{settings.model}'. Search it with --model {model}."
            )
        self._embedder = embedder
        self._model_spec = model
        self._count_cache: tuple[int, int] | None = None  # (generation, articles)
        self.lexical = make_lexical_engine(settings.lexical_engine, self.reader)
        self.on_embed: Callable[[float], None] | None = None  # seconds per query embedding (the service's /metrics)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder.from_settings(self.settings, model=self._model_spec)
            if self._embedder.dimension != self.reader.dimension:
                raise IndexCorruptError(
                    f"model '{self._model_spec}' gives {self._embedder.dimension}-d vectors, the index has {self.reader.dimension}."
                )
        return self._embedder

    def warm_up(self) -> None:
        """Load the model and the word dictionary and run one query so the first user does not pay for it."""
        self.embedder.embed_queries(["warm up"])
        tokenize_for_index("อุ่นเครื่อง warm up")
        with self.reader.snapshot() as conn:
            self.lexical.prepare(conn)

    # ------------------------------------------------------------------------------ search
    def search(self, query: str, k: int = 10, offset: int = 0, mode: str = "hybrid",
               filters: Filters | None = None) -> SearchResponse:
        started = time.perf_counter()
        if mode not in MODES:
            raise ValueError(f"Unknown mode '{mode}': use one of {', '.join(MODES)}.")
        filters = filters or Filters()
        self.reader.refresh()
        wanted = max(CANDIDATES, offset + k)
        with self.reader.snapshot() as conn:
            self.lexical.prepare(conn, current_generation(conn))
            n_articles = self._article_count(conn)
            terms = query_terms(query, n_articles, lambda ts: self.lexical.doc_freq(conn, ts))
            allowed = queries.embedded_pids_matching(conn, filters) if filters.active and mode != "lexical" else None
            dense_docs, best_pid = ({}, {}) if mode == "lexical" else self._dense_docs(
                conn, query, wanted * self._passages_per_doc(n_articles), allowed)
            lexical_docs = {} if mode == "dense" else dict(self.lexical.search(conn, terms, wanted, filters))
            if mode == "dense":
                ranked = sorted(dense_docs.items(), key=lambda kv: (-kv[1], kv[0]))
            elif mode == "lexical":
                ranked = sorted(lexical_docs.items(), key=lambda kv: (-kv[1], kv[0]))
            else:
                ranked = hybrid_ranking(dense_docs, lexical_docs, terms)
            page = ranked[offset:offset + k]
            results = self._results(conn, page, terms, best_pid)
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(query=query, took_ms=round(took, 2), total=len(ranked), results=results)

    def _article_count(self, conn) -> int:
        """Articles in the index, counted once per generation (a count(*) scan per query adds up)."""
        generation = self.reader.generation
        cached = self._count_cache
        if cached is None or cached[0] != generation:
            cached = (generation, queries.article_count(conn))
            self._count_cache = cached
        return cached[1]

    def _passages_per_doc(self, n_articles: int) -> int:
        """Dense hits to fetch per wanted article: one more than the index's vectors per article
        (2 when only lead passages are embedded), at most PASSAGES_PER_DOC."""
        per_article = self.reader.index.ntotal / max(1, n_articles)
        return min(PASSAGES_PER_DOC, math.ceil(per_article) + 1)

    def _dense_docs(self, conn, query: str, fetch: int, allowed: Sequence[int] | None) -> tuple[dict[int, float], dict[int, int]]:
        """Document score = its best passage's cosine similarity; also remembers that passage."""
        started = time.perf_counter()
        vector = self.embedder.embed_queries([query])[0]
        if self.on_embed is not None:
            self.on_embed(time.perf_counter() - started)
        hits = self.reader.dense_search(vector, fetch, allowed)
        return self._aggregate(conn, hits)

    def _aggregate(self, conn, hits) -> tuple[dict[int, float], dict[int, int]]:
        if not hits:
            return {}, {}
        owner = queries.passage_owners(conn, [h.pid for h in hits])
        docs: dict[int, float] = {}
        best: dict[int, int] = {}
        for hit in hits:  # best first, so the first passage seen per article is its best
            rowid = owner.get(hit.pid)
            if rowid is None:  # deleted after the vectors were loaded: never show a half-gone article
                continue
            if rowid not in docs:
                docs[rowid] = hit.score
                best[rowid] = hit.pid
        return docs, best

    def _results(self, conn, page: list[tuple[int, float]], terms: QueryTerms, best_pid: dict[int, int]) -> list[SearchResult]:
        """The page's articles with snippets (two queries for the whole page, not two per result)."""
        if not page:
            return []
        rowids = [rowid for rowid, _ in page]
        rows = queries.result_rows(conn, rowids)
        passages = queries.passages_of(conn, rowids)
        term_set = set(terms.terms)
        out = []
        for rowid, score in page:
            row = rows[rowid]
            text = snippet_passage(passages.get(rowid, []), term_set, best_pid.get(rowid))
            out.append(SearchResult(id=row[0], title=row[1], date=row[2], category=row[3], url=row[4],
                                    score=round(float(score), 6), snippet=make_snippet(text, term_set)))
        return out

    # ------------------------------------------------------------------------ documents
    def get(self, doc_id: str) -> Article | None:
        self.reader.refresh()
        return self.reader.get_article(doc_id)

    def similar(self, doc_id: str, k: int = 10) -> SearchResponse | None:
        """Related releases: nearest articles to this one's mean passage vector, never itself."""
        started = time.perf_counter()
        self.reader.refresh()
        with self.reader.snapshot() as conn:
            row = queries.article_rowid_and_title(conn, doc_id)
            if row is None:
                return None
            rowid, title = row
            pids = queries.embedded_pids_of(conn, rowid)
            if not pids:
                return SearchResponse(query=title, took_ms=0.0, total=0)
            vectors = self.reader.vectors_of(pids)
            centre = vectors.mean(axis=0)
            centre /= max(float(np.linalg.norm(centre)), 1e-12)
            hits = self.reader.dense_search(centre, (k + 1) * PASSAGES_PER_DOC + len(pids))
            docs, best = self._aggregate(conn, hits)
            docs.pop(rowid, None)
            ranked = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
            empty = QueryTerms((), {}, 0)
            results = self._results(conn, ranked, empty, best)
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(query=title, took_ms=round(took, 2), total=len(ranked), results=results)

    # ----------------------------------------------------------------------------- stats
    def stats(self) -> dict:
        self.reader.refresh()
        with self.reader.snapshot() as conn:
            articles, passages = queries.index_counts(conn)
        manifest = self.reader.manifest
        return {"articles": articles, "passages": passages, "model": manifest.model, "dimension": manifest.dimension,
                "built_at": manifest.built_at}

    def categories(self) -> list[dict]:
        self.reader.refresh()
        rows = queries.category_counts(self.reader.connection())
        return [{"category": c, "count": n} for c, n in rows]
