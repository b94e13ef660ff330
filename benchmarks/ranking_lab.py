"""Ranking experiments on built indexes: score many ranking variants without re-embedding.

Loads an index (articles, stored passage vectors, in-memory BM25) into memory, embeds each set's
queries once (cached under ``--cache``), computes *exact* dense document scores for every article
(best passage, as the read path; exact search is what the product does below 100k passages), the
BM25 candidates through the read path's in-memory index, and then ranks every variant from those.
The variant ``current`` reproduces ``thaigov-search eval``'s hybrid (checked against its JSON).

Variants (see docs/quality.md for the results and the choice):

* dense calibration across document languages: ``centre`` subtracts the query's mean similarity to
  the documents of each language (``q . mean(vectors of language L)``), ``z`` also divides by the
  standard deviation of those similarities (``sqrt(q' Cov_L q)``); both exact for the whole corpus;
* titles: the headline embedded on its own (``passage: <title>``), mixed into the dense score;
* lexical weight: the shipped coverage, or coverage measured on the documents the dense side
  ranks highest (only words that occur where the meaning points count as evidence);
* a soft date preference from the query's year/month (thaigov_search.search.query_dates).

    python benchmarks/ranking_lab.py --index-dir /work/cache/idx-10k-int8-lead --backend onnx-int8 \
        --set news-dev=../shared/eval/thaigov-news-dev --set para=/work/cache/devsets/paraphrase --out lab.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thaigov_search.cli.evaluation import judged_queries, load_beir, query_metrics  # noqa: E402
from thaigov_search.core.settings import Settings  # noqa: E402
from thaigov_search.search import fusion  # noqa: E402
from thaigov_search.search.lexical.terms import QueryTerms, query_terms  # noqa: E402
from thaigov_search.search.query_dates import date_bonus, date_hint  # noqa: E402
from thaigov_search.search.searcher import Searcher  # noqa: E402
from thaigov_search.store.manifest import Manifest  # noqa: E402
from thaigov_search.store.schema import DB_NAME, blobs_to_matrix  # noqa: E402

K = 100


@dataclass
class Corpus:
    ids: list[str]
    rowids: np.ndarray
    langs: np.ndarray  # "th"/"en"
    dates: list[str | None]
    titles: list[str]
    pvec: np.ndarray  # passages x d
    owner: np.ndarray  # passage -> article index
    lang_stats: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # lang -> (mean, cov)
    tvec: np.ndarray | None = None  # title vectors (articles x d)


def load_corpus(index_dir: Path) -> Corpus:
    conn = sqlite3.connect(f"file:{index_dir / DB_NAME}?mode=ro", uri=True)
    rows = conn.execute("SELECT rowid, id, title, date, language FROM articles ORDER BY rowid").fetchall()
    rowids = np.array([r[0] for r in rows], dtype=np.int64)
    pos = {int(r): i for i, r in enumerate(rowids)}
    prow = conn.execute("SELECT article_rowid, vector FROM passages WHERE vector IS NOT NULL ORDER BY article_rowid, position").fetchall()
    dim = Manifest.read(index_dir).dimension
    pvec = blobs_to_matrix([r[1] for r in prow], dim)
    owner = np.array([pos[r[0]] for r in prow], dtype=np.int64)
    c = Corpus([r[1] for r in rows], rowids, np.array([r[4] for r in rows]), [r[3] for r in rows],
               [r[2] for r in rows], pvec, owner)
    # language statistics over documents (a document = mean of its passage vectors, as "similar" does)
    doc_vec = np.zeros((len(rows), dim), dtype=np.float64)
    np.add.at(doc_vec, owner, pvec)
    counts = np.bincount(owner, minlength=len(rows)).astype(np.float64)
    has = counts > 0
    doc_vec[has] /= counts[has, None]
    for lang in sorted(set(c.langs.tolist())):
        sel = (c.langs == lang) & has
        if sel.sum() < 20:  # as thaigov_search.search.calibration.MIN_PASSAGES: too few to estimate
            continue
        v = doc_vec[sel]
        c.lang_stats[lang] = (v.mean(axis=0), np.cov(v.T) if len(v) > 1 else np.zeros((dim, dim)))
    return c


def candidate_pools(c: Corpus, qvec: np.ndarray, calibrate_languages: bool) -> list[np.ndarray]:
    """Per query, the articles the read path fetches: the owners of the top K x passages-per-doc
    passages, per language when calibrating (Searcher.candidates)."""
    ppd = min(4, int(np.ceil(len(c.pvec) / max(1, len(c.ids)))) + 1)
    fetch = K * ppd
    s = qvec @ c.pvec.T
    groups = [np.arange(len(c.pvec))]
    if calibrate_languages:
        plang = c.langs[c.owner]
        groups = [np.flatnonzero(plang == lang) for lang in c.lang_stats]
    pools = []
    for row in s:
        owners = []
        for g in groups:
            n = min(fetch, len(g))
            best = g[np.argpartition(-row[g], n - 1)[:n]]
            owners.append(c.owner[best])
        pools.append(np.unique(np.concatenate(owners)))
    return pools


def doc_scores(c: Corpus, qvec: np.ndarray) -> np.ndarray:
    """Exact best-passage cosine per article (queries x articles); -inf for articles without vectors."""
    s = qvec @ c.pvec.T
    out = np.full((qvec.shape[0], len(c.ids)), -np.inf, dtype=np.float32)
    order = np.argsort(c.owner, kind="stable")
    own = c.owner[order]
    starts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
    out[:, own[starts]] = np.maximum.reduceat(s[:, order], starts, axis=1)
    return out


def cached_embeddings(embedder, texts: list[str], cache: Path, kind: str) -> np.ndarray:
    """Embeddings cached by texts, kind and model (the model's path: base and adapted differ)."""
    model = str(getattr(embedder, "spec", ""))
    key = hashlib.sha256(("\x00".join(texts) + kind + ("" if model in ("default", "e5-small") else model)).encode()).hexdigest()[:16]
    path = cache / f"{kind}-{key}.npy"
    if path.exists():
        return np.load(path)
    if kind.startswith("q"):  # one at a time, as the service embeds queries (int8 quantises per batch)
        vec = np.stack([embedder.embed_queries([t], batch_size=1)[0] for t in texts]).astype(np.float32)
    else:
        vec = np.asarray(embedder.embed_passages(texts, batch_size=32), dtype=np.float32)
    np.save(path, vec)
    return vec


@dataclass
class Query:
    qid: str
    text: str
    lang: str | None
    qrels: dict[str, int]
    dense: np.ndarray  # exact doc scores (articles)
    qvec: np.ndarray
    lexical: dict[int, float]  # article index -> BM25 (top K)
    terms: QueryTerms
    term_docs: dict[str, np.ndarray]  # term -> article indices holding it (for pool coverage)
    title: np.ndarray | None = None
    pool_raw: np.ndarray | None = None  # candidate articles, one unrestricted search
    pool_lang: np.ndarray | None = None  # candidate articles, one search per language


def top(scores: np.ndarray, k: int = K, pool: np.ndarray | None = None) -> dict[int, float]:
    """The dense candidates: the pool the read path fetches (all of it, as the product fuses), or
    the top k when no pool is given."""
    if pool is not None:
        return {int(i): float(scores[i]) for i in pool if np.isfinite(scores[i])}
    k = min(k, int(np.isfinite(scores).sum()))
    idx = np.argpartition(-scores, k - 1)[:k]
    return {int(i): float(scores[i]) for i in idx}


def pool_of(c: Corpus, q: Query, cal: str) -> np.ndarray | None:
    return q.pool_raw if cal == "raw" or len(c.lang_stats) < 2 else q.pool_lang



def ranked_ids(c: Corpus, ranked: list[tuple[int, float]]) -> list[str]:
    return [c.ids[i] for i, _ in ranked[:K]]


# ------------------------------------------------------------------------------- dense variants
def calibrated(c: Corpus, q: Query, how: str, alpha: float = 1.0) -> np.ndarray:
    s = q.dense.astype(np.float64).copy()
    if how == "raw" or len(c.lang_stats) < 2:  # one language: the read path keeps the cosine
        return s
    for lang, (mean, cov) in c.lang_stats.items():
        sel = c.langs == lang
        mu = float(q.qvec @ mean)
        if how == "centre":
            s[sel] = s[sel] - alpha * mu
        elif how == "z":
            sd = float(np.sqrt(max(q.qvec @ cov @ q.qvec, 1e-12)))
            s[sel] = (s[sel] - mu) / sd
        elif how == "tail":  # -log(expected documents of this language scoring above): N_L x normal tail
            from scipy.stats import norm

            sd = float(np.sqrt(max(q.qvec @ cov @ q.qvec, 1e-12)))
            s[sel] = -(norm.logsf((s[sel] - mu) / sd) + np.log(sel.sum()))
        elif how == "zmax":  # z minus the expected maximum z of N_L draws
            sd = float(np.sqrt(max(q.qvec @ cov @ q.qvec, 1e-12)))
            s[sel] = (s[sel] - mu) / sd - alpha * np.sqrt(2 * np.log(sel.sum()))
    return s


def with_title(q: Query, base: np.ndarray, w: float) -> np.ndarray:
    if q.title is None or w == 0:
        return base
    t = q.title.astype(np.float64)
    return (1 - w) * base + w * np.where(np.isfinite(t), t, base)


# ----------------------------------------------------------------------------- lexical weights
def pool_coverage(q: Query, pool: list[int]) -> float:
    """Share of the query's IDF mass whose terms occur in the given documents (the dense top)."""
    t = q.terms
    if not t.terms:
        return 0.0
    pool_set = np.array(sorted(pool), dtype=np.int64)
    total = sum(t.idf(x) for x in t.terms)
    found = sum(t.idf(x) for x in t.terms if x in q.term_docs and np.isin(q.term_docs[x], pool_set).any())
    return found / total if total else 0.0


def language_agreement(c: Corpus, a: list[int], b: list[int]) -> float:
    """Probability that a document of ``a`` and one of ``b`` share their language."""
    if not a or not b:
        return 0.0
    la, lb = c.langs[a], c.langs[b]
    return float(sum(np.mean(la == lang) * np.mean(lb == lang) for lang in set(la.tolist())))


def language_coverage(c: Corpus, q: Query, pool: list[int]) -> float:
    """Sum over languages L of (share of the dense top in L) x (query coverage among documents of L)."""
    t = q.terms
    total = sum(t.idf(x) for x in t.terms)
    if not pool or not total:
        return 0.0
    out = 0.0
    for lang in set(c.langs[pool].tolist()):
        share = float(np.mean(c.langs[pool] == lang))
        found = sum(t.idf(x) for x in t.terms if x in q.term_docs and (c.langs[q.term_docs[x]] == lang).any())
        out += share * found / total
    return out


def normalised(scores: dict[int, float], how: str) -> dict[int, float]:
    """``minmax`` (the product), ``z`` (mean/sd over the candidates, then squashed to 0..1 by the
    max), ``max`` (divide by the best score, min 0)."""
    if how == "minmax" or not scores:
        return fusion.normalise(scores)
    v = np.array(list(scores.values()), dtype=np.float64)
    if how == "z":
        z = (v - v.mean()) / (v.std() + 1e-9)
        z = z / max(z.max(), 1e-9)
        return dict(zip(scores, z.tolist(), strict=True))
    if how == "max":
        return dict(zip(scores, (np.maximum(v, 0) / max(v.max(), 1e-9)).tolist(), strict=True))
    raise ValueError(how)


def prf_scores(c: Corpus, q: Query, dense: np.ndarray, beta: float, m: int) -> np.ndarray:
    """Dense pseudo-relevance feedback: q' = q + beta * mean(best vectors of the top m documents),
    scored again (calibration offsets of ``dense`` - raw kept as a shift per document)."""
    if not beta:
        return dense
    order = np.argsort(-dense)[:m]
    sel = np.isin(c.owner, order)
    fb = c.pvec[sel].mean(axis=0)
    q2 = q.qvec + beta * fb
    q2 = q2 / np.linalg.norm(q2)
    raw2 = doc_scores(c, q2[None, :].astype(np.float32))[0].astype(np.float64)
    shift = dense - q.dense.astype(np.float64)  # the calibration offset per document
    return raw2 + shift


def top_match(q: Query, doc: int) -> float:
    """Share of the query's IDF mass whose words the document holds (QueryTerms.share_held, as the searcher)."""
    return q.terms.share_held({x for x in q.terms.terms if x in q.term_docs and doc in q.term_docs[x]})


def fuse_variant(c: Corpus, q: Query, dense: np.ndarray, weight_rule: str, w_max: float = 0.5,
                 pool_k: int = 10, date_beta: float = 0.0, pool: np.ndarray | None = None,
                 norm: str = "minmax", match_from: float = 0.7) -> list[tuple[int, float]]:
    d = top(dense, pool=pool)
    lx = q.lexical
    if weight_rule == "coverage":
        w = fusion.lexical_weight(q.terms.coverage, w_max)
    elif weight_rule == "pool":
        pool = sorted(d, key=lambda i: -d[i])[:pool_k]
        w = fusion.lexical_weight(pool_coverage(q, pool), w_max)
    elif weight_rule == "lang":  # coverage within the languages the dense top documents are in
        pool = sorted(d, key=lambda i: -d[i])[:pool_k]
        w = fusion.lexical_weight(language_coverage(c, q, pool), w_max)
    elif weight_rule == "agree":  # index-wide coverage x language agreement of the two tops
        dtop = sorted(d, key=lambda i: -d[i])[:pool_k]
        ltop = sorted(lx, key=lambda i: -lx[i])[:pool_k]
        w = fusion.lexical_weight(q.terms.coverage * language_agreement(c, dtop, ltop), w_max)
    elif weight_rule == "agree-match":  # agreement, unless BM25's best document holds (nearly) every query word
        dtop = sorted(d, key=lambda i: -d[i])[:pool_k]
        ltop = sorted(lx, key=lambda i: -lx[i])[:pool_k]
        agree = language_agreement(c, dtop, ltop)
        m = top_match(q, ltop[0]) if ltop else 0.0
        strength = max(0.0, (m - match_from) / (1.0 - match_from))
        w = fusion.lexical_weight(q.terms.coverage * max(agree, strength), w_max)
    elif weight_rule == "none":
        w = 0.0
    else:
        raise ValueError(weight_rule)
    if norm == "minmax":
        ranked = fusion.fuse(d, lx, w)
    else:
        dn, ln = normalised(d, norm), normalised(lx, norm)
        fused = {k: (1 - w) * dn.get(k, 0.0) + w * ln.get(k, 0.0) for k in set(dn) | set(ln)}
        ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    if date_beta:
        hint = date_hint(q.text)
        if hint is not None:
            ranked = sorted(((i, s + date_beta * date_bonus(hint, c.dates[i])) for i, s in ranked),
                            key=lambda kv: (-kv[1], kv[0]))
    return ranked


def dense_only(dense: np.ndarray, pool: np.ndarray | None = None) -> list[tuple[int, float]]:
    d = top(dense, pool=pool)
    return sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))


Variant = Callable[[Corpus, Query], list[tuple[int, float]]]


def parse_variant(spec: str) -> Variant:
    """``dense:cal=z,title=0.2`` or ``hybrid:cal=z,weight=pool,k=10,wmax=0.5,date=0.1,title=0.2``;
    ``lexical``; ``current`` (the shipped hybrid before issue #11)."""
    kind, _, rest = spec.partition(":")
    opts = dict(item.split("=", 1) for item in rest.split(",") if item)
    cal = opts.get("cal", "raw")
    alpha = float(opts.get("alpha", 1.0))
    title_w = float(opts.get("title", 0))

    prf_beta = float(opts.get("prf", 0))
    prf_m = int(opts.get("prfm", 3))

    def dense_scores(c: Corpus, q: Query) -> np.ndarray:
        if title_w:
            q = Query(**{**q.__dict__, "dense": with_title(q, q.dense.astype(np.float64), title_w).astype(np.float32)})
        return prf_scores(c, q, calibrated(c, q, cal, alpha), prf_beta, prf_m)

    if kind == "lexical":
        return lambda c, q: sorted(q.lexical.items(), key=lambda kv: (-kv[1], kv[0]))
    if kind == "current":
        return lambda c, q: fuse_variant(c, q, calibrated(c, q, "raw"), "coverage", pool=q.pool_raw)
    if kind == "dense":
        return lambda c, q: dense_only(dense_scores(c, q), pool_of(c, q, cal))
    if kind == "hybrid":
        return lambda c, q: fuse_variant(c, q, dense_scores(c, q), opts.get("weight", "coverage"),
                                         float(opts.get("wmax", 0.5)), int(opts.get("k", 10)),
                                         float(opts.get("date", 0)), pool_of(c, q, cal),
                                         opts.get("norm", "minmax"), float(opts.get("mf", 0.7)))
    raise ValueError(f"unknown variant {spec!r}")


DEFAULT_VARIANTS = [
    "dense", "lexical", "current",
    "dense:cal=centre", "dense:cal=centre,alpha=0.5", "dense:cal=z",
    "hybrid:cal=z", "hybrid:cal=centre,weight=pool", "hybrid:cal=z,weight=pool", "hybrid:cal=z,weight=pool,k=20",
    "hybrid:weight=pool",
]


# ---------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", required=True, type=Path)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--set", action="append", required=True, help="name=folder (queries.jsonl, qrels.tsv)")
    parser.add_argument("--titles", action="store_true", help="embed the headlines (needed by title=... variants)")
    parser.add_argument("--variant", action="append", help="a variant spec (repeatable; see parse_variant)")
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/lab"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)

    settings = Settings(backend=args.backend)
    searcher = Searcher(args.index_dir, settings)
    c = load_corpus(args.index_dir)
    print(f"{len(c.ids)} articles, {len(c.pvec)} vectors, languages "
          f"{ {k: int((c.langs == k).sum()) for k in c.lang_stats} }", file=sys.stderr)
    if args.titles:
        c.tvec = cached_embeddings(searcher.embedder, [t or "-" for t in c.titles], args.cache, f"p-titles-{args.backend}")
    pos = {int(r): i for i, r in enumerate(c.rowids)}
    lex = searcher.lexical.index  # the in-memory BM25 (MemoryEngine's LexicalIndex)
    table: dict[str, dict] = {}
    for spec in args.set:
        name, folder = spec.split("=", 1)
        data = load_beir(None, Path(folder) / "queries.jsonl", Path(folder) / "qrels.tsv")
        qids = judged_queries(data)
        texts = [data.queries[q] for q in qids]
        qvec = cached_embeddings(searcher.embedder, texts, args.cache, f"q1-{name}-{args.backend}")
        dense = doc_scores(c, qvec)
        pools_raw = candidate_pools(c, qvec, False)
        pools_lang = candidate_pools(c, qvec, True) if len(c.lang_stats) > 1 else pools_raw
        titles = qvec @ c.tvec.T if c.tvec is not None else None
        queries = []
        with searcher.reader.snapshot() as conn:
            lex.sync(conn)
            n = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            for i, (qid, text) in enumerate(zip(qids, texts, strict=True)):
                terms = query_terms(text, n, lex.doc_freq)
                hits = lex.search(terms, K)
                term_docs = {}
                for t in terms.terms:
                    found = []
                    for part in lex._parts:
                        col = part.column(t)
                        if col is not None:
                            found.extend(pos[int(r)] for r in part.rowids[col[0]] if int(r) in pos)
                    if found:
                        term_docs[t] = np.array(found, dtype=np.int64)
                queries.append(Query(qid, text, data.langs.get(qid), data.qrels[qid], dense[i], qvec[i],
                                     {pos[r]: s for r, s in hits if r in pos}, terms, term_docs,
                                     titles[i] if titles is not None else None, pools_raw[i], pools_lang[i]))
        specs = args.variant or DEFAULT_VARIANTS
        chosen = {spec: parse_variant(spec) for spec in specs}
        langs = dict(zip(c.ids, c.langs.tolist(), strict=True))
        for vname, fn in chosen.items():
            per = {q.qid: query_metrics(ranked_ids(c, fn(c, q)), q.qrels, langs) for q in queries}
            row = {}
            for lang in [None, *sorted({q.lang for q in queries if q.lang})]:
                sel = [per[q.qid] for q in queries if lang is None or q.lang == lang]
                row[lang or "all"] = {k: round(statistics.fmean(m[k] for m in sel), 4)
                                      for k in ("ndcg@10", "mrr@10", "recall@10", "en@10")}
            table.setdefault(vname, {})[name] = row
            print(f"{name:10} {vname:52} " + "  ".join(
                f"{lang}: mrr {m['mrr@10']:.4f} ndcg {m['ndcg@10']:.4f} en {m['en@10']:.2f}" for lang, m in row.items()),
                file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(table, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
