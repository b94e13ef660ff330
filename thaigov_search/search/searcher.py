"""The read path: a query in, ranked articles with snippets out (dense, lexical or hybrid)."""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path

import numpy as np

from thaigov_search.core.article import Article
from thaigov_search.core.filters import Filters
from thaigov_search.core.models import DEFAULT_ALIAS, recorded_model, same_model
from thaigov_search.core.modes import MODES
from thaigov_search.core.settings import Settings
from thaigov_search.core.thai_text import tokenize_for_index
from thaigov_search.embedding.embedder import Embedder
from thaigov_search.search.archive import (
    RESULT_SET_MAX,
    ArrangeOptions,
    Facts,
    FactsCache,
    arrange,
    arrange_options,
    lexical_floor,
)
from thaigov_search.search.calibration import LanguageStats, calibrate, language_stats
from thaigov_search.search.candidates import Candidates, rank
from thaigov_search.search.fusion import language_agreement, lexical_evidence, max_lexical_weight, top_keys
from thaigov_search.search.lexical import make_lexical_engine
from thaigov_search.search.lexical.terms import QueryTerms, query_terms
from thaigov_search.search.page import page_results, twin_of
from thaigov_search.search.query_dates import date_bonus, date_hint
from thaigov_search.search.query_vectors import QueryVectors
from thaigov_search.search.results import SearchResponse, Suggestion, SuggestResponse, TwinLink
from thaigov_search.search.spelling import FREQUENCY_RATIO, Speller
from thaigov_search.search.suggest import SuggestionCache
from thaigov_search.search.titles import mix_titles
from thaigov_search.store import queries
from thaigov_search.store.duplicates import ids_of as duplicate_ids
from thaigov_search.store.fts5 import stored_term_set, vocabulary
from thaigov_search.store.reader import IndexReader
from thaigov_search.store.schema import (
    IndexCorruptError,
    ModelMismatchError,
    current_generation,
)

logger = logging.getLogger(__name__)

CANDIDATES = 100  # documents each retriever contributes before fusion
CORRECTION_SHARE = 0.6  # "did you mean" compares the releases each spelling matches this well (search.spelling)
PASSAGES_PER_DOC = 4  # at most this many dense passages fetched per wanted document (articles have several)


class Searcher:
    """Answers queries over one index directory; safe to share between threads."""

    def __init__(self, index_dir: Path, settings: Settings, embedder: Embedder | None = None,
                 verify: bool | str = True):
        self.settings = settings
        self.reader = IndexReader(Path(index_dir), verify=verify)
        # The index's own model, unless the user names another (an error if it differs): with the
        # plain default the searcher follows the manifest, so an index built with e5-small before
        # the adapted default keeps its model (core.models).
        model = recorded_model(self.reader.manifest.model)
        if not same_model(settings.model, model) and settings.model != DEFAULT_ALIAS and embedder is None:
            raise ModelMismatchError(
                f"{index_dir} was built with model '{model}', not '{settings.model}'. Search it with --model {model}."
            )
        self._embedder = embedder
        self._model_spec = model
        self._count_cache: tuple[int, int] | None = None  # (generation, articles)
        self.lexical = make_lexical_engine(settings.lexical_engine, self.reader)
        self._stats: LanguageStats | None = None  # dense calibration (search.calibration)
        self._stats_lock = threading.Lock()
        self._facts = FactsCache()
        self._speller = Speller()
        self._suggestions = SuggestionCache(self._titles, self.reader.suggestions_snapshot)
        self.query_vectors = QueryVectors(lambda texts: self.embedder.embed_queries(texts), settings.query_cache_size)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder.from_settings(self.settings, model=self._model_spec)
            if self._embedder.dimension != self.reader.dimension:
                raise IndexCorruptError(
                    f"model '{self._model_spec}' gives {self._embedder.dimension}-d vectors, the index has {self.reader.dimension}."
                )
        return self._embedder

    def warm_up(self, dense_query: bool = False) -> None:
        """Load the model, word dictionary and BM25 so the first user does not pay for them; with
        ``dense_query`` also run one (calibration statistics, vector pages): what `serve` does before it
        is ready. Not the spelling vocabulary (1.5-4 s at the full corpus): the service loads it in the
        background once ready (:meth:`prepare_suggestions`); a query needing it meanwhile waits."""
        self.embedder.embed_queries(["warm up"])
        tokenize_for_index("อุ่นเครื่อง warm up")
        with self.reader.snapshot() as conn:
            self.lexical.prepare(conn)
        if dense_query:
            self.search("รัฐบาล government", k=1, mode="dense")

    # ------------------------------------------------------------------------------ search
    def arrange_options(self, sort: str = "relevance", recency: float | None = None, collapse: bool | None = None,
                        facets: tuple[str, ...] = ()) -> ArrangeOptions:
        """What :func:`search.archive.arrange` does with a ranking: the request's choices, the settings' defaults."""
        return arrange_options(self.settings, sort, recency, collapse, facets)

    def search(self, query: str, k: int = 10, offset: int = 0, mode: str = "hybrid",
               filters: Filters | None = None, sort: str = "relevance", recency: float | None = None,
               collapse: bool | None = None, facets: tuple[str, ...] = ()) -> SearchResponse:
        """One page of the query's result set, arranged as a news archive (search.archive: recency,
        sort, collapsed near-duplicates, facet counts over the whole set)."""
        started = time.perf_counter()
        if mode not in MODES:
            raise ValueError(f"Unknown mode '{mode}': use one of {', '.join(MODES)}.")
        options = self.arrange_options(sort, recency, collapse, facets)
        filters = filters or Filters()
        self.reader.refresh()
        wanted = max(CANDIDATES, offset + k)
        with self.reader.snapshot() as conn:
            pool = self.candidates(conn, query, wanted, filters,
                                   dense=mode != "lexical", lexical=mode != "dense")
            listing = self.arrange(conn, pool, mode, options)
            page = listing.items[offset:offset + k]
            results = page_results(conn, page, pool.terms, pool.best_pid, listing.folded)
            correction = self._did_you_mean(conn, query, pool, mode, filters)
        took = (time.perf_counter() - started) * 1000
        period = pool.date_hint.range() if pool.date_hint is not None else None
        suggested = {"date_from": period[0], "date_to": period[1]} if period else None
        return SearchResponse(query=query, took_ms=round(took, 2), total=len(listing.items), results=results,
                              suggested_filter=suggested, facets=listing.facets, did_you_mean=correction)

    def arrange(self, conn, pool: Candidates, mode: str, options: ArrangeOptions):
        """The ranking of ``pool`` arranged by ``options`` (search.archive); what eval scores too."""
        filters = pool.filters
        allowed = (lambda rowids: queries.rowids_passing(conn, filters, rowids)) if filters and filters.active else None
        return arrange(rank(pool, mode), mode, pool.dense, pool.matches, options,
                       lambda with_articles: self.facts(conn, with_articles), pool.dense_top, pool.dense_scope, allowed)

    def _did_you_mean(self, conn, query: str, pool: Candidates, mode: str, filters: Filters) -> str | None:
        """A corrected query (search.spelling) when it matches well (BM25 >= CORRECTION_SHARE of its
        ideal) more releases than this query does, FREQUENCY_RATIO times more when it turned Latin
        words into Thai ones (an English query with matches keeps its words); otherwise None."""
        if mode == "dense" or not pool.terms.terms:
            return None
        correction = self._speller.correct(query, self.reader.generation, lambda n: vocabulary(conn, n),
                                           self._article_count(conn))
        if correction is None or correction.text == query:
            return None
        corrected = correction.text
        counts = []
        for text in (query, corrected):
            terms = pool.terms if text == query else query_terms(
                text, pool.terms.n_docs, lambda ts: self.lexical.doc_freq(conn, ts))
            floor = lexical_floor(terms.ideal_bm25, CORRECTION_SHARE)
            counts.append(0 if floor == float("inf") else len(
                self.lexical.search(conn, terms, RESULT_SET_MAX, filters, min_score=floor)))
        gain = FREQUENCY_RATIO if correction.transliterated else 1
        return corrected if counts[1] > counts[0] and counts[1] >= gain * counts[0] else None

    def facts(self, conn, with_articles: bool = True) -> Facts:
        """Dates, categories and near-duplicate groups of the index, current with this generation."""
        return self._facts.get(self.reader.generation, conn, with_articles)

    def candidates(self, conn, query: str, wanted: int = CANDIDATES, filters: Filters | None = None,
                   dense: bool = True, lexical: bool = True, vector: np.ndarray | None = None) -> Candidates:
        """Each retriever's document candidates for ``query`` inside one read transaction
        (``conn`` from ``reader.snapshot()``); ``vector`` is the query's embedding when the caller
        already has it (``eval`` embeds all queries in one batch)."""
        filters = filters or Filters()
        self.lexical.prepare(conn, current_generation(conn))
        terms = query_terms(query, self.lexical.doc_count(conn), lambda ts: self.lexical.doc_freq(conn, ts))
        dense_docs: dict[int, float] = {}
        best_pid: dict[int, int] = {}
        titled = None
        if dense:
            allowed = queries.embedded_pids_matching(conn, filters) if filters.active else None
            if vector is None:
                vector = self._embed(query)
            fetch = wanted * self._passages_per_doc(conn)
            dense_docs, best_pid, titled = self._dense(conn, vector, fetch, allowed)
        lexical_docs = dict(self.lexical.search(conn, terms, wanted, filters)) if lexical else {}
        pool = Candidates(dense_docs, lexical_docs, terms, best_pid, date_hint=date_hint(query), filters=filters,
                          titled=titled)
        # A filter narrows the query's result set (search.archive) and nothing else, so it gives exactly
        # the releases its facet count promised: the dense part is taken from the unfiltered candidates,
        # measured against their best (with the filter's own best as the reference and candidates from
        # inside the filter, a narrow category let in weaker matches: 2 results behind a count of 1).
        if dense and filters.active:
            unfiltered = self._dense(conn, vector, fetch, None, titles=False)[0]
            pool.dense_top, pool.dense_scope = max(unfiltered.values(), default=None), set(unfiltered)
        if lexical:  # the lexical part of the result set: every article that matches well enough (search.archive)
            # relative to what this index can give the query: the ideal BM25, or the best match when
            # no article comes near it (English words in Thai text: the share of the ideal cut 0.37 ->
            # 0.24 MRR@10 from lexical mode on English Wikipedia questions)
            reference = lexical_docs if not filters.active else dict(self.lexical.search(conn, terms, 1, Filters()))
            best = max(reference.values(), default=0.0)
            reach = min(terms.ideal_bm25, best) if best > 0 else terms.ideal_bm25
            floor = lexical_floor(reach, self.settings.lexical_match_share)
            if floor < float("inf"):
                pool.matches = dict(self.lexical.search(conn, terms, RESULT_SET_MAX, filters, min_score=floor))
        if dense and lexical:
            self._hybrid_evidence(conn, pool)
        return pool

    def _dense(self, conn, vector: np.ndarray, fetch: int, allowed, titles: bool = True
               ) -> tuple[dict[int, float], dict[int, int], dict[int, float] | None]:
        """Article scores (best passage; calibrated across languages when the index has several), each
        article's best passage, from the ``fetch`` nearest passages among ``allowed`` (None: all), and
        the scores with each title's own cosine mixed in (search.titles: what hybrid fuses; None when
        ``titles`` is false, ``title_weight`` is 0 or the index has no title vectors)."""
        stats = self._language_stats(conn)
        if stats is None:
            hits = self.reader.dense_search(vector, fetch, allowed)
        else:
            hits = []  # each language brings its own best passages, merged on calibrated scores
            for pids in stats.pids.values():
                chosen = pids if allowed is None else np.intersect1d(pids, allowed, assume_unique=True)
                if len(chosen):
                    hits += self.reader.dense_search(vector, fetch, chosen)
            hits.sort(key=lambda h: (-h.score, h.pid))
        docs, best_pid = self._aggregate(conn, hits)
        titled = None
        if titles and self.settings.title_weight > 0 and docs:
            rowids, vectors = queries.title_vectors(conn, list(docs), self.reader.dimension)
            titled = mix_titles(docs, rowids, vectors, vector, self.settings.title_weight) if rowids else None
        if stats is not None:
            languages, offsets = self._languages(conn, docs), stats.offsets(vector)
            docs = calibrate(docs, languages, offsets)
            titled = calibrate(titled, languages, offsets) if titled is not None else None
        return docs, best_pid, titled

    def _hybrid_evidence(self, conn, pool: Candidates) -> None:
        """What the fusion needs besides the scores: the lexical evidence that can point at the answer
        (coverage x the larger of the language agreement of the two retrievers' top documents and
        how fully BM25's best document holds the query's words) and, when the query names
        a period, each candidate's date fit (search.fusion)."""
        pool.lexical_max = max_lexical_weight(self._vectors_per_article(conn))
        if self.settings.lexical_evidence == "language-agreement":
            dense_top, lexical_top = top_keys(pool.hybrid_dense), top_keys(pool.lexical)
            languages = self._languages(conn, dict.fromkeys(dense_top + lexical_top, 0.0))
            agreement = language_agreement(
                [languages.get(k, "") for k in dense_top], [languages.get(k, "") for k in lexical_top])
            # BM25's best document is read only when it can matter: with agreement 1 (one language)
            # max(agreement, strength) is 1 whatever it holds
            top_match = (pool.terms.share_held(stored_term_set(conn, lexical_top[0]))
                         if lexical_top and agreement < 1.0 else 0.0)
            pool.evidence = lexical_evidence(pool.terms.coverage, agreement, top_match)
        pool.date_weight = self.settings.date_weight
        if pool.date_hint is not None and pool.date_weight > 0:
            keys = list(set(pool.dense) | set(pool.lexical))
            pool.dates = {rowid: date_bonus(pool.date_hint, date)
                          for rowid, date in queries.article_dates(conn, keys).items()}

    def _language_stats(self, conn) -> LanguageStats | None:
        """Per-language passage ids and vector statistics, current with this generation; None when
        calibration is off or the index holds one language only (raw cosine then ranks the same)."""
        if not self.settings.dense_calibration:
            return None
        generation = self.reader.generation
        with self._stats_lock:
            stats = self._stats
            if stats is None or stats.generation != generation:
                stats = language_stats(conn, self.reader.dimension, generation, stats)
                self._stats = stats
        return stats if stats.calibrated(stats.languages) else None

    @staticmethod
    def _languages(conn, docs: dict[int, float]) -> dict[int, str]:
        return queries.article_languages(conn, list(docs))

    def _embed(self, query: str) -> np.ndarray:
        return self.query_vectors.vector(query)

    def _article_count(self, conn) -> int:
        """Articles in the index, counted once per generation (a count(*) scan per query adds up)."""
        generation = self.reader.generation
        cached = self._count_cache
        if cached is None or cached[0] != generation:
            cached = (generation, queries.article_count(conn))
            self._count_cache = cached
        return cached[1]

    def _vectors_per_article(self, conn) -> float:
        """Embedded passages per article: about 1 in a lead-only index."""
        return self.reader.index.ntotal / max(1, self._article_count(conn))

    def _passages_per_doc(self, conn) -> int:
        """Dense hits to fetch per wanted article: one more than the index's vectors per article
        (2 when only lead passages are embedded), at most PASSAGES_PER_DOC."""
        return min(PASSAGES_PER_DOC, math.ceil(self._vectors_per_article(conn)) + 1)

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

    # ---------------------------------------------------------------------- suggestions
    def suggest(self, typed: str, k: int = 8, wait_s: float = 30.0) -> SuggestResponse:
        """Completions of a half-typed query from the index's title phrases (search.suggest: the mapped
        snapshot file; without one, built in the background, waiting at most ``wait_s`` for the first)."""
        self.reader.refresh()
        built = self._suggestions.get(self.reader.generation, wait_s)
        texts = built.complete(typed, k) if built is not None else []
        return SuggestResponse(query=typed, suggestions=[Suggestion(text=t) for t in texts])

    def prepare_suggestions(self) -> None:
        """Start building the suggestion phrases and loading the spelling vocabulary now, in the
        background (the service calls it once it is ready)."""
        self._suggestions.refresh(self.reader.generation)

        def warm_speller() -> None:
            try:
                with self.reader.snapshot() as conn:
                    self._speller.warm(self.reader.generation, lambda n: vocabulary(conn, n))
            except Exception:
                logger.exception("could not load the spelling vocabulary")

        threading.Thread(target=warm_speller, name="spelling-vocabulary", daemon=True).start()

    def _titles(self) -> list[str]:
        with self.reader.snapshot() as conn:
            return queries.all_titles(conn)

    # ------------------------------------------------------------------------ documents
    def get(self, doc_id: str) -> Article | None:
        self.reader.refresh()
        return self.reader.get_article(doc_id)

    def duplicates_of(self, doc_id: str) -> list[str] | None:
        """Ids of the other versions of a release (its near-duplicate group), oldest rowid first; None if unknown."""
        self.reader.refresh()
        with self.reader.snapshot() as conn:
            row = queries.article_rowid_and_title(conn, doc_id)
            if row is None:
                return None
            facts = self.facts(conn, with_articles=False)
            root = facts.group.get(row[0])
            others = sorted(m for m in facts.members.get(root, []) if m != row[0]) if root is not None else []
            return duplicate_ids(conn, others)

    def twin_of(self, doc_id: str) -> TwinLink | None:
        """The same release in the other language (English <-> Thai twin), or None."""
        self.reader.refresh()
        with self.reader.snapshot() as conn:
            row = queries.article_rowid_and_title(conn, doc_id)
            return twin_of(conn, row[0]) if row is not None else None

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
            results = page_results(conn, ranked, empty, best)
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(query=title, took_ms=round(took, 2), total=len(ranked), results=results)

    # ----------------------------------------------------------------------------- stats
    def stats(self) -> dict:
        self.reader.refresh()
        with self.reader.snapshot() as conn:
            articles, passages = queries.index_counts(conn)
        manifest = self.reader.manifest
        return {"articles": articles, "passages": passages, "model": recorded_model(manifest.model), "dimension": manifest.dimension,
                "built_at": manifest.built_at}

    def categories(self) -> list[dict]:
        self.reader.refresh()
        rows = queries.category_counts(self.reader.connection())
        return [{"category": c, "count": n} for c, n in rows]
