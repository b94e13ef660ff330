"""The read path: a query in, ranked articles with snippets out (dense, lexical or hybrid)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from indexer.embedding import Embedder
from indexer.storage import IndexCorruptError, ModelMismatchError, StoredArticle, current_generation
from indexer.thai_text import tokenize_for_index
from search_api.fusion import hybrid_ranking
from search_api.index_reader import IndexReader
from search_api.lexical import QueryTerms, article_count, lexical_search, query_terms
from search_api.snippets import make_snippet, term_hits
from thaigov_search.config import Settings

logger = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "lexical")
CANDIDATES = 100  # documents each retriever contributes before fusion
PASSAGES_PER_DOC = 4  # at most this many dense passages fetched per wanted document (articles have several)


@dataclass(frozen=True)
class Filters:
    """Restrictions on date (ISO, inclusive) and category (exact section name)."""

    date_from: str | None = None
    date_to: str | None = None
    category: str | None = None

    def sql(self) -> tuple[str, tuple]:
        clauses, args = [], []
        if self.date_from:
            clauses.append("a.date >= ?")
            args.append(self.date_from)
        if self.date_to:
            clauses.append("a.date <= ?")
            args.append(self.date_to)
        if self.category:
            clauses.append("a.category = ?")
            args.append(self.category)
        return " AND ".join(clauses), tuple(args)

    @property
    def active(self) -> bool:
        return bool(self.date_from or self.date_to or self.category)


@dataclass
class SearchResult:
    id: str
    title: str
    date: str | None
    category: str
    url: str
    score: float
    snippet: str


@dataclass
class SearchResponse:
    query: str
    took_ms: float
    total: int
    results: list[SearchResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"query": self.query, "took_ms": self.took_ms, "total": self.total,
                "results": [asdict(r) for r in self.results]}


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


@dataclass
class Candidates:
    """What the retrievers found for one query, before any fusion: the input of :func:`rank`.

    Scores are keyed by article rowid. ``dense`` is the best passage's cosine similarity,
    ``lexical`` the BM25 score; ``best_pid`` remembers the dense passage for the snippet."""

    dense: dict[int, float]
    lexical: dict[int, float]
    terms: QueryTerms
    best_pid: dict[int, int] = field(default_factory=dict)


def rank(pool: Candidates, mode: str) -> list[tuple[int, float]]:
    """(rowid, score) best first for one mode; a pure function of the candidates."""
    if mode == "dense":
        return sorted(pool.dense.items(), key=lambda kv: (-kv[1], kv[0]))
    if mode == "lexical":
        return sorted(pool.lexical.items(), key=lambda kv: (-kv[1], kv[0]))
    return hybrid_ranking(pool.dense, pool.lexical, pool.terms)


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
        self.in_memory_lexical = settings.lexical_engine == "memory"

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self._model_spec, self.settings.home, self.settings.backend, self.settings.device)
            if self._embedder.dimension != self.reader.dimension:
                raise IndexCorruptError(
                    f"model '{self._model_spec}' gives {self._embedder.dimension}-d vectors, the index has {self.reader.dimension}."
                )
        return self._embedder

    def warm_up(self) -> None:
        """Load the model and the word dictionary and run one query so the first user does not pay for it."""
        self.embedder.embed_queries(["warm up"])
        tokenize_for_index("อุ่นเครื่อง warm up")
        if self.in_memory_lexical:
            with self.reader.snapshot() as conn:
                self.reader.lexical.sync(conn)

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
            pool = self.candidates(conn, query, wanted, filters,
                                   dense=mode != "lexical", lexical=mode != "dense")
            ranked = rank(pool, mode)
            page = ranked[offset:offset + k]
            results = self._results(conn, page, pool.terms, pool.best_pid)
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(query=query, took_ms=round(took, 2), total=len(ranked), results=results)

    def candidates(self, conn, query: str, wanted: int = CANDIDATES, filters: Filters | None = None,
                   dense: bool = True, lexical: bool = True, vector: np.ndarray | None = None) -> Candidates:
        """Each retriever's document candidates for ``query`` inside one read transaction
        (``conn`` from ``reader.snapshot()``); ``vector`` is the query's embedding when the caller
        already has it (``eval`` embeds all queries in one batch)."""
        filters = filters or Filters()
        doc_freq = None
        if self.in_memory_lexical:
            self.reader.lexical.sync(conn, current_generation(conn))
            doc_freq = self.reader.lexical.doc_freq
        n_articles = self._article_count(conn)
        terms = query_terms(conn, query, n_articles, doc_freq)
        dense_docs: dict[int, float] = {}
        best_pid: dict[int, int] = {}
        if dense:
            allowed = self._allowed_pids(conn, filters) if filters.active else None
            if vector is None:
                vector = self.embedder.embed_queries([query])[0]
            hits = self.reader.dense_search(vector, wanted * self._passages_per_doc(n_articles), allowed)
            dense_docs, best_pid = self._aggregate(conn, hits)
        lexical_docs = dict(self._lexical_docs(conn, terms, wanted, filters)) if lexical else {}
        return Candidates(dense_docs, lexical_docs, terms, best_pid)

    def _article_count(self, conn) -> int:
        """Articles in the index, counted once per generation (a count(*) scan per query adds up)."""
        generation = self.reader.generation
        cached = self._count_cache
        if cached is None or cached[0] != generation:
            cached = (generation, article_count(conn))
            self._count_cache = cached
        return cached[1]

    def _allowed_pids(self, conn, filters: Filters) -> list[int]:
        where, args = filters.sql()
        rows = conn.execute(
            f"SELECT p.pid FROM passages p JOIN articles a ON a.rowid = p.article_rowid WHERE p.vector IS NOT NULL AND {where}",
            args,
        ).fetchall()
        return [r[0] for r in rows]

    def _passages_per_doc(self, n_articles: int) -> int:
        """Dense hits to fetch per wanted article: one more than the index's vectors per article
        (2 when only lead passages are embedded), at most PASSAGES_PER_DOC."""
        per_article = self.reader.index.ntotal / max(1, n_articles)
        return min(PASSAGES_PER_DOC, math.ceil(per_article) + 1)

    def _aggregate(self, conn, hits) -> tuple[dict[int, float], dict[int, int]]:
        if not hits:
            return {}, {}
        marks = ",".join("?" * len(hits))
        owner = dict(conn.execute(f"SELECT pid, article_rowid FROM passages WHERE pid IN ({marks})", [h.pid for h in hits]).fetchall())
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

    def _lexical_docs(self, conn, terms: QueryTerms, wanted: int, filters: Filters) -> list[tuple[int, float]]:
        """BM25 candidates from the in-memory index, restricted to live (and filter-matching) articles."""
        if not self.in_memory_lexical:
            where, args = filters.sql()
            return lexical_search(conn, terms, wanted, where, args)
        allowed = None
        if filters.active:
            where, args = filters.sql()
            allowed = np.array([r[0] for r in conn.execute(f"SELECT a.rowid FROM articles a WHERE {where}", args)],
                               dtype=np.int64)
        fetch = wanted
        while True:
            hits = self.reader.lexical.search(terms, fetch, allowed)
            live = self._live_rowids(conn, [rowid for rowid, _ in hits])
            found = [(rowid, score) for rowid, score in hits if rowid in live]
            if len(found) >= wanted or len(hits) < fetch:  # enough, or nothing more to fetch
                return found[:wanted]
            fetch *= 2  # articles deleted since the index was loaded took some places

    @staticmethod
    def _live_rowids(conn, rowids: list[int]) -> set[int]:
        if not rowids:
            return set()
        marks = ",".join("?" * len(rowids))
        return {r[0] for r in conn.execute(f"SELECT rowid FROM articles WHERE rowid IN ({marks})", rowids)}

    def _results(self, conn, page: list[tuple[int, float]], terms: QueryTerms, best_pid: dict[int, int]) -> list[SearchResult]:
        """The page's articles with snippets (two queries for the whole page, not two per result)."""
        if not page:
            return []
        rowids = [rowid for rowid, _ in page]
        marks = ",".join("?" * len(rowids))
        rows = {r[0]: r[1:] for r in conn.execute(
            f"SELECT rowid, id, title, date, category, url FROM articles WHERE rowid IN ({marks})", rowids)}
        passages: dict[int, list[tuple[int, str]]] = {}
        for rowid, pid, text in conn.execute(
                f"SELECT article_rowid, pid, text FROM passages WHERE article_rowid IN ({marks}) "
                "ORDER BY article_rowid, position", rowids):
            passages.setdefault(rowid, []).append((pid, text))
        term_set = set(terms.terms)
        out = []
        for rowid, score in page:
            row = rows[rowid]
            text = snippet_passage(passages.get(rowid, []), term_set, best_pid.get(rowid))
            out.append(SearchResult(id=row[0], title=row[1], date=row[2], category=row[3], url=row[4],
                                    score=round(float(score), 6), snippet=make_snippet(text, term_set)))
        return out

    # ------------------------------------------------------------------------ documents
    def get(self, doc_id: str) -> StoredArticle | None:
        self.reader.refresh()
        return self.reader.get_article(doc_id)

    def similar(self, doc_id: str, k: int = 10) -> SearchResponse | None:
        """Related releases: nearest articles to this one's mean passage vector, never itself."""
        started = time.perf_counter()
        self.reader.refresh()
        with self.reader.snapshot() as conn:
            row = conn.execute("SELECT rowid, title FROM articles WHERE id = ?", (doc_id,)).fetchone()
            if row is None:
                return None
            rowid, title = row
            pids = [r[0] for r in conn.execute(
                "SELECT pid FROM passages WHERE article_rowid = ? AND vector IS NOT NULL ORDER BY position", (rowid,))]
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
            articles, passages = conn.execute(
                "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages)").fetchone()
        manifest = self.reader.manifest
        return {"articles": articles, "passages": passages, "model": manifest.model, "dimension": manifest.dimension,
                "built_at": manifest.built_at}

    def categories(self) -> list[dict]:
        self.reader.refresh()
        rows = self.reader.connection().execute(
            "SELECT category, count(*) FROM articles GROUP BY category ORDER BY count(*) DESC, category").fetchall()
        return [{"category": c, "count": n} for c, n in rows]
