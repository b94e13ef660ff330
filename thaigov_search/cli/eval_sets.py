"""What `thaigov-search eval` scores against: the per-query metrics and the judged set's files.

Split from :mod:`thaigov_search.cli.evaluation` (which runs the queries and holds the command) at
the seam between "what a judged set is and how a ranking is scored" and "how rankings are made";
the definitions of the metrics are in that module's docstring.
"""

from __future__ import annotations

import json
import math
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

METRIC_KEYS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "en@10")


# ------------------------------------------------------------------------------------ metrics
def _dedupe(ranked_ids: Sequence[str], k: int) -> list[str]:
    """The first k distinct ids (a document counts once, at its best rank)."""
    seen: dict[str, None] = {}
    for doc_id in ranked_ids:
        if doc_id not in seen:
            seen[doc_id] = None
            if len(seen) >= k:
                break
    return list(seen)


def ndcg_at_k(ranked_ids: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gain: sum(rel_i / log2(i + 1)) over ranks i = 1..k, divided by the same
    sum for the qrels sorted by relevance. 0.0 when the query has no relevant document."""
    ideal = sorted((rel for rel in qrels.values() if rel > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(ideal, 1))
    if idcg <= 0:
        return 0.0
    dcg = sum(max(qrels.get(doc_id, 0), 0) / math.log2(rank + 1)
              for rank, doc_id in enumerate(_dedupe(ranked_ids, k), 1))
    return dcg / idcg


def recall_at_k(ranked_ids: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the query's relevant documents (score > 0) found in the top k. 0.0 when none exist."""
    relevant = {doc_id for doc_id, rel in qrels.items() if rel > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_dedupe(ranked_ids, k))) / len(relevant)


def mrr_at_k(ranked_ids: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k (0.0 if none)."""
    for rank, doc_id in enumerate(_dedupe(ranked_ids, k), 1):
        if qrels.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def query_metrics(ranked_ids: Sequence[str], qrels: Mapping[str, int],
                  languages: Mapping[str, str] | None = None) -> dict[str, float]:
    """The per-query metrics; ``languages`` (article id -> ``th``/``en``) gives en@10."""
    top10 = _dedupe(ranked_ids, 10)
    return {
        "ndcg@10": ndcg_at_k(ranked_ids, qrels, 10),
        "recall@10": recall_at_k(ranked_ids, qrels, 10),
        "recall@100": recall_at_k(ranked_ids, qrels, 100),
        "mrr@10": mrr_at_k(ranked_ids, qrels, 10),
        "en@10": float(sum(1 for d in top10 if (languages or {}).get(d) == "en")),
    }


# -------------------------------------------------------------------------------- BEIR files
@dataclass
class BeirSet:
    corpus: dict[str, dict[str, str]]  # id -> {"title", "text"}, in file order (BEIR corpus)
    queries: dict[str, str]  # id -> text, in file order
    qrels: dict[str, dict[str, int]]  # query id -> {corpus id: relevance}
    langs: dict[str, str] = field(default_factory=dict)  # query id -> "th"/"en" when the file says
    corpus_input: Path | None = None  # an indexer input file (thaigov format) instead of a BEIR corpus
    corpus_ids: frozenset[str] = frozenset()  # the ids in corpus_input


def _jsonl(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; ValueError naming file:line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    found = False
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            found = True
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
            missing = [name for name in required if obj.get(name) is None or str(obj.get(name)).strip() == ""]
            if missing:
                raise ValueError(f"{path}:{number}: missing field(s) {', '.join(repr(m) for m in missing)}")
            yield number, obj
    if not found:
        raise ValueError(f"{path}: file is empty")


def load_corpus(path: Path) -> dict[str, dict[str, str]]:
    corpus: dict[str, dict[str, str]] = {}
    for number, obj in _jsonl(path, ("_id", "text")):
        doc_id = str(obj["_id"]).strip()
        if doc_id in corpus:
            raise ValueError(f"{path}:{number}: duplicate _id {doc_id!r}")
        corpus[doc_id] = {"title": str(obj.get("title") or ""), "text": str(obj["text"])}
    return corpus


def load_queries(path: Path, langs: dict[str, str] | None = None) -> dict[str, str]:
    """id -> text; a query's optional ``lang`` goes into ``langs`` when that dict is given."""
    queries: dict[str, str] = {}
    for number, obj in _jsonl(path, ("_id", "text")):
        query_id = str(obj["_id"]).strip()
        if query_id in queries:
            raise ValueError(f"{path}:{number}: duplicate _id {query_id!r}")
        queries[query_id] = str(obj["text"])
        if langs is not None and str(obj.get("lang") or "").strip():
            langs[query_id] = str(obj["lang"]).strip()
    return queries


def is_beir_corpus(path: Path) -> bool:
    """A BEIR corpus.jsonl (first object has ``_id``) rather than an indexer input file."""  # noqa: D401
    from thaigov_search.indexing.sources import _is_jsonl, _open_binary

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if not _is_jsonl(path):
        return False
    with _open_binary(path) as fh:
        for raw in fh:
            if raw.strip():
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return False
                return isinstance(obj, dict) and "_id" in obj
    return True  # nothing in it: the BEIR reader says "file is empty"


def input_corpus_ids(path: Path) -> frozenset[str]:
    """The ids of an indexer input file, read by the indexer's own reader (bad lines skipped)."""
    from thaigov_search.indexing.sources import ReadStats, iter_records

    return frozenset(rec.id for rec in iter_records([path], ReadStats()))


def load_qrels(path: Path, queries: Mapping[str, str] | None = None,
               corpus: Container[str] | None = None) -> dict[str, dict[str, int]]:
    """Read a BEIR qrels.tsv (header ``query-id corpus-id score``); with ``queries``/``corpus``
    given, every id must exist in them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    qrels: dict[str, dict[str, int]] = {}
    header_seen = False
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.split()
            if not header_seen:
                if [p.lower() for p in parts] != ["query-id", "corpus-id", "score"]:
                    raise ValueError(
                        f"{path}:{number}: expected the header 'query-id<TAB>corpus-id<TAB>score', got {line.strip()!r}"
                    )
                header_seen = True
                continue
            if len(parts) != 3:
                raise ValueError(f"{path}:{number}: expected 3 columns (query-id corpus-id score), got {len(parts)}")
            query_id, doc_id, raw_score = parts
            try:
                score = int(float(raw_score))
            except ValueError:
                raise ValueError(f"{path}:{number}: score {raw_score!r} is not a number") from None
            if queries is not None and query_id not in queries:
                raise ValueError(f"{path}:{number}: query id {query_id!r} is not in the queries file")
            if corpus is not None and doc_id not in corpus:
                raise ValueError(f"{path}:{number}: corpus id {doc_id!r} is not in the corpus file")
            qrels.setdefault(query_id, {})[doc_id] = score
    if not header_seen:
        raise ValueError(f"{path}: file is empty")
    if not qrels:
        raise ValueError(f"{path}: no judgements after the header")
    return qrels


def load_beir(corpus: Path | None, queries: Path, qrels: Path) -> BeirSet:
    """Queries and qrels with their corpus: a BEIR corpus.jsonl, an indexer input file (the shared
    thaigov format), or None (an existing index is judged as it is; ids are checked against it)."""
    langs: dict[str, str] = {}
    texts = load_queries(queries, langs)
    if corpus is None:
        return BeirSet({}, texts, load_qrels(qrels, texts), langs)
    if is_beir_corpus(corpus):
        docs = load_corpus(corpus)
        return BeirSet(docs, texts, load_qrels(qrels, texts, docs), langs)
    ids = input_corpus_ids(corpus)
    if not ids:
        raise ValueError(f"{corpus}: no readable record")
    return BeirSet({}, texts, load_qrels(qrels, texts, ids), langs, Path(corpus), ids)
