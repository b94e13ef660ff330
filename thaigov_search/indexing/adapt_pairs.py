"""Training pairs for ``thaigov-search adapt``, mined from the user's own releases.

Four kinds of (query, positive) pairs, all built from parsed releases (:mod:`thaigov_search.indexing.parsing`):

* ``title-lead``: the title -> the start of the body (the title is not in it, so the model must match
  a headline-like query to the body's wording; the dev queries are headline-like paraphrases);
* ``lead-rest``: the first sentence(s) of the body -> the passage that follows them;
* ``twin-en-th``: an English release's title -> its Thai twin's ``title\\nlead`` (the indexed form);
* ``twin-th-en``: a Thai release's title -> its English twin's ``title\\nlead``.

Twins come from :func:`thaigov_search.indexing.twins.find_twins`. Every pair carries the ids of the releases it
came from (both twins for twin pairs, and a release's twin too for its own pairs), so a batch never
holds two pairs of the same story: their positives would be false in-batch negatives, which for
twins would push English and Thai apart (the cross-language cost of monolingual adaptation).

Hard negatives are in-batch and cheap: :func:`thaigov_search.embedding.training.make_batches` fills each batch from one calendar
month, so the other positives of a batch are releases on the same period's topics (ministers,
programmes, disasters of that month) rather than random ones. An explicit mined negative column
would cost 80 % more encoder work per pair on CPU.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from thaigov_search.core.article import Article
from thaigov_search.core.files import read_records_jsonl, write_records_jsonl
from thaigov_search.embedding.training import Pair
from thaigov_search.indexing.twins import Twin, is_list_release

log = logging.getLogger(__name__)

__all__ = ["PairMix", "load_articles", "load_articles_cached", "load_pairs", "load_pairs_meta", "mine_pairs",
           "read_ids", "save_pairs"]


@dataclass(frozen=True)
class PairMix:
    """Shares of the pair budget; twin pairs are capped by how many twins exist."""

    title_lead: float = 0.55
    lead_rest: float = 0.2
    twins: float = 0.25  # split evenly between en->th and th->en
    lead_chars: int = 600
    rest_chars: int = 600
    min_body_chars: int = 200


def read_ids(paths: Sequence[Path | str]) -> set[str]:
    """Ids of every record in ``paths`` (cheap: no parsing), for ``--exclude``."""
    from thaigov_search.indexing.sources import ReadStats, iter_records

    stats = ReadStats()
    return {rec.id for rec in iter_records(list(paths), stats)}


def load_articles(
    paths: Sequence[Path | str], exclude: set[str] | None = None, progress: bool = True, limit: int | None = None
) -> list[Article]:
    """Parse every record of ``paths`` whose id is not in ``exclude`` with the product's parser."""
    from tqdm import tqdm

    from thaigov_search.indexing.parsing import EmptyArticleError, parse_record
    from thaigov_search.indexing.sources import ReadStats, iter_records

    stats = ReadStats()
    exclude = exclude or set()
    out: list[Article] = []
    skipped = 0
    for rec in tqdm(iter_records(list(paths), stats, limit), desc="parse releases", unit="rel", disable=not progress):
        if rec.id in exclude:
            skipped += 1
            continue
        try:
            out.append(parse_record(rec))
        except EmptyArticleError:
            continue
    log.info("parsed %d releases, %d excluded", len(out), skipped)
    return out


def load_articles_cached(
    paths: Sequence[Path | str], exclude: set[str] | None, cache: Path | None, progress: bool = True
) -> list[Article]:
    """:func:`load_articles` of *all* of ``paths``, kept in ``cache`` (gzipped JSONL) and reused on the
    next call (parsing the 92k-release corpus takes 10-20 minutes on one core); ``exclude`` is
    applied after loading, so one cache serves every exclusion."""
    import gzip

    if cache is not None and Path(cache).exists():
        with gzip.open(cache, "rt", encoding="utf-8") as f:
            articles = [Article(**json.loads(line)) for line in f]
        log.info("read %d parsed releases from %s", len(articles), cache)
    else:
        articles = load_articles(paths, None, progress)
        if cache is not None:
            tmp = Path(cache).with_suffix(".tmp")
            with gzip.open(tmp, "wt", encoding="utf-8") as f:
                for a in articles:
                    d = asdict(a)
                    d.pop("warnings")
                    f.write(json.dumps(d, ensure_ascii=False) + "\n")
            tmp.replace(cache)
    exclude = exclude or set()
    return [a for a in articles if a.id not in exclude]


def _cut(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters, cut at the last whitespace (Thai phrases end at spaces)."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", max_chars // 2, max_chars)
    if cut < 0:
        cut = text.rfind("\n", max_chars // 2, max_chars)
    return text[: cut if cut > 0 else max_chars].strip()


def _without_title(body: str, title: str) -> str:
    """The body with every verbatim copy of the title removed: about one release in six repeats its
    title at the start of the body (measured on 4,200 training releases), which would make the
    title -> lead pair trivial."""
    t = title.strip()
    if len(t) < 12:
        return body
    return re.sub(r"[ \t]{2,}", " ", body.replace(t, " ")).strip()


def _lead_split(body: str, min_chars: int = 60, max_chars: int = 300) -> tuple[str, str]:
    """The body's first sentence-ish span (ends at the first paragraph break or space after
    ``min_chars``) and the rest."""
    body = body.strip()
    nl = body.find("\n", min_chars)
    cut = nl if 0 < nl <= max_chars else body.find(" ", min_chars, max_chars)
    if cut <= 0:
        return "", body
    return body[:cut].strip(), body[cut:].strip()


def _usable(a: Article, mix: PairMix) -> bool:
    return bool(a.title) and len(a.title) >= 12 and len(a.body) >= mix.min_body_chars and not is_list_release(a.title)


def _month(a: Article) -> str:
    return (a.date or "0000-00")[:7]


def mine_pairs(
    articles: Iterable[Article], twins: Sequence[Twin], n_pairs: int, seed: int, mix: PairMix | None = None
) -> list[Pair]:
    """About ``n_pairs`` pairs drawn reproducibly (``seed``) in the shares of ``mix``.

    Releases with a duplicate title (re-posts) are used once. Twin pairs take up to their share;
    the title-lead kind fills whatever the twins cannot.
    """
    mix = mix or PairMix()
    rng = random.Random(seed)
    by_id: dict[str, Article] = {}
    seen_titles: set[str] = set()
    for a in articles:
        key = " ".join(a.title.split()).lower()
        if not _usable(a, mix) or key in seen_titles:
            continue
        seen_titles.add(key)
        by_id[a.id] = a
    twin_of: dict[str, str] = {}
    for t in twins:
        twin_of[t.en_id] = t.th_id
        twin_of[t.th_id] = t.en_id

    def group(a: Article) -> tuple[str, ...]:
        return (a.id, twin_of[a.id]) if a.id in twin_of else (a.id,)

    def indexed(a: Article) -> str:
        return f"{a.title}\n{_cut(a.body, mix.lead_chars)}"

    twin_pairs_en: list[Pair] = []
    twin_pairs_th: list[Pair] = []
    for t in twins:
        en, th = by_id.get(t.en_id), by_id.get(t.th_id)
        if en is None or th is None:
            continue
        g = (en.id, th.id)
        twin_pairs_en.append(Pair(en.title, indexed(th), "twin-en-th", _month(th), g))
        twin_pairs_th.append(Pair(th.title, indexed(en), "twin-th-en", _month(en), g))
    half = int(n_pairs * mix.twins / 2)
    rng.shuffle(twin_pairs_en)
    rng.shuffle(twin_pairs_th)
    pairs = twin_pairs_en[:half] + twin_pairs_th[:half]

    ids = sorted(by_id)
    rng.shuffle(ids)
    n_rest = int(n_pairs * mix.lead_rest)
    n_title = n_pairs - len(pairs) - n_rest
    title_pairs: list[Pair] = []
    rest_pairs: list[Pair] = []
    for rid in ids:
        a = by_id[rid]
        if len(title_pairs) < n_title:
            body = _without_title(a.body, a.title)
            if len(body) >= mix.min_body_chars:
                title_pairs.append(Pair(a.title, _cut(body, mix.lead_chars), "title-lead", _month(a), group(a)))
        elif len(rest_pairs) < n_rest:
            lead, rest = _lead_split(_without_title(a.body, a.title))
            if lead and len(rest) >= mix.min_body_chars // 2:
                rest_pairs.append(Pair(lead, f"{a.title}\n{_cut(rest, mix.rest_chars)}", "lead-rest", _month(a), group(a)))
        else:
            break
    pairs += title_pairs + rest_pairs
    counts: dict[str, int] = defaultdict(int)
    for p in pairs:
        counts[p.kind] += 1
    log.info("mined %d pairs: %s", len(pairs), dict(counts))
    return pairs


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def save_pairs(pairs: Sequence[Pair], path: Path, meta: dict | None = None) -> None:
    """Pairs as JSONL, and next to them (``FILE.meta.json``) where they came from, so a model trained
    from ``--pairs-file`` still records its corpus, exclusions, seed and twin count."""
    path = Path(path)
    write_records_jsonl(pairs, path)
    _meta_path(path).write_text(json.dumps(meta or {}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def load_pairs_meta(path: Path) -> dict:
    meta = _meta_path(Path(path))
    return json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}


def load_pairs(path: Path) -> list[Pair]:
    """The pairs :func:`save_pairs` wrote."""
    return read_records_jsonl(path, Pair)
