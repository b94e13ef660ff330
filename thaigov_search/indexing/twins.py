"""English <-> Thai twins: an English release and a Thai release that report the same event.

The government publishes many stories twice: a Thai release and, a day or two later, an English
one ("Government News"). Linking them lets search offer "Read in English / อ่านภาษาไทย" and lets
adaptation (``thaigov-search adapt``, :mod:`thaigov_search.indexing.adapt_pairs`) learn cross-language pairs from the user's own corpus.

A pair is linked when all of these hold:

1. **Date window** -- the releases' dates are at most ``window_days`` apart (default 3).
2. **Shared evidence** -- numbers (amounts, counts, percentages; years and day-of-month sized
   numbers do not count) and Latin-script names or acronyms (``EXIM``, ``APEC``, ``COVID-19``)
   found in both title+lead texts. Candidates are ranked by this evidence and only the best
   ``max_candidates`` of each English release are embedded, so dense similarity is computed for
   a few dozen pairs per English release, never for the whole window.
3. **Dense similarity** -- cosine of the model's passage embeddings of ``title + lead`` (the first
   ``lead_chars`` characters of the body) is at least ``min_cosine``, after a small bonus per piece
   of shared evidence (``evidence_bonus``).
4. **Mutual best** -- the Thai release is the English release's best candidate and the English
   release is that Thai release's best English match (one Thai release per English one).

English releases whose title is mostly Thai (the parser's language test looks at the whole text)
and list releases (cabinet synopses, schedules: :data:`LIST_TITLE`) are never linked.

The functions take plain :class:`~thaigov_search.core.article.Article` objects and an embedding callable, so
the indexer links twins at index time (:func:`link_twins`, stored by :mod:`thaigov_search.store.twins`)
and tools mine a whole corpus (``scripts/mine_twins.py``, ``adapt``) with the same code.

**At index time** only what the new articles can change is linked again. A release's best candidate
does not depend on other English releases, so an article written on day d can change the twin of
an English release up to ``2 x window_days`` away (its own, or the one whose Thai twin it takes);
deciding those needs the releases up to ``4 x window_days`` away (their candidates, and the other
English releases competing for each candidate). :func:`link_twins` loads that span around each new
article's date, links, and replaces the twins of the English releases in the inner span. Articles
deleted since are unlinked with their rows; the twin they leave behind is linked again when an
article near it is next written.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path

import numpy as np

from thaigov_search.core.article import Article
from thaigov_search.core.files import read_records_jsonl, write_records_jsonl
from thaigov_search.core.models import ADAPTED_MODEL_NAME, BASE_MODEL_NAME, canonical_model
from thaigov_search.core.thai_text import thai_latin_counts

log = logging.getLogger(__name__)

__all__ = ["TwinConfig", "Twin", "evidence", "find_twins", "is_list_release", "link_twins", "load_twins", "periods",
           "save_twins", "twin_text", "twin_threshold"]

# The model whose cosines ``min_cosine`` was calibrated on (the eye-checked sample of
# docs/adaptation.md); the adapted default spreads cosines differently and links fewer twins.
TWIN_MODEL = BASE_MODEL_NAME
# The threshold of each embedded model (an index links its twins with its own model). e5-small:
# TwinConfig.min_cosine, checked by eye (docs/adaptation.md). The adapted default scores the same
# pairs 0.04 lower (median over the 883 mutual-best pairs both models find in the full corpus); 0.82
# agrees best with e5-small's 551 twins at 0.86 (528 twins, 464 shared; F1 0.86; 0.81: 0.85, 0.83:
# 0.83) and a random 30 of them checked by eye are 24 the same release, 2 the same event, 4 wrong
# (docs/quality.md, 2026-12-03).
TWIN_THRESHOLDS = {BASE_MODEL_NAME: 0.86, ADAPTED_MODEL_NAME: 0.82}


def twin_threshold(model: str) -> float | None:
    """``min_cosine`` for an index built with ``model``; None for a model without a checked threshold."""
    return TWIN_THRESHOLDS.get(canonical_model(model))

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*")
# Latin tokens that appear in Thai releases without being names: the source line, units, web junk.
_LATIN_STOP = frozenset(
    "http https www go th com html php news contents details thaigov gov co or org net km kg cm mm am pm "
    "mr ms mrs no nr px "
    # English function words: Thai releases quote English phrases, which share them with everything.
    "a an and are as at be by for from has have in into is it its of on or that the this to was were "
    "will with".split()
)


# Titles of list releases (cabinet synopses, schedules): one English synopsis covers many Thai
# releases, so it twins none of them; their bodies are agendas, not answers to the title.
LIST_TITLE = re.compile(
    r"^(สรุปข่าวการประชุมคณะรัฐมนตรี|สรุปผลการประชุมคณะรัฐมนตรี|กำหนดการ|ภารกิจ|Cabinet Meeting Synopsis|"
    r"The cabinet met on|Schedule)",
    re.I,
)


def is_list_release(title: str) -> bool:
    return bool(LIST_TITLE.match(title.strip()))


def _english_title(a: Article) -> bool:
    """The parser calls a release English when its text has more Latin than Thai letters; a few
    Thai releases full of English names pass that test, so the title must be mostly Latin too."""
    thai, latin = thai_latin_counts(a.title)
    return latin > thai


@dataclass(frozen=True)
class TwinConfig:
    """Knobs of :func:`find_twins` (defaults checked by eye on the full corpus, docs/adaptation.md)."""

    window_days: int = 3
    lead_chars: int = 200
    max_candidates: int = 12
    min_cosine: float = 0.86
    evidence_bonus: float = 0.01
    max_bonus: float = 0.04


@dataclass(frozen=True)
class Twin:
    """A linked pair with the evidence that linked it."""

    en_id: str
    th_id: str
    cosine: float
    score: float
    shared: tuple[str, ...]
    days_apart: int


def save_twins(twins: Sequence[Twin], path: Path) -> None:
    """Twins as JSONL (``scripts/mine_twins.py`` writes them; ``adapt --twins`` reads them back)."""
    write_records_jsonl(twins, path)


def load_twins(path: Path) -> list[Twin]:
    """The twins :func:`save_twins` wrote."""
    return read_records_jsonl(path, Twin)


def twin_text(article: Article, lead_chars: int) -> str:
    """What is compared: the title and the start of the body."""
    return f"{article.title}\n{article.body[:lead_chars]}".strip()


def evidence(text: str) -> frozenset[str]:
    """Numbers and Latin names in ``text`` that can link an English and a Thai release.

    Numbers lose their thousands separators; years (1900-2100 and Buddhist-era 2400-2600, unless
    written with a separator: "2,500" is an amount) and bare integers up to 31 (days of the month,
    list numbering) are dropped because every release has them.
    Latin tokens are lower-cased, at least two characters, and not in a small stop list.
    """
    found: set[str] = set()
    for m in _NUMBER.finditer(text):
        grouped = "," in m.group().rstrip(",.")
        raw = m.group().rstrip(",.").replace(",", "")
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        if "." not in raw and not grouped and (value <= 31 or 1900 <= value <= 2100 or 2400 <= value <= 2600):
            continue
        found.add(raw.lstrip("0") or "0")
    for m in _LATIN.finditer(text):
        tok = m.group().lower()
        if len(tok) >= 2 and tok not in _LATIN_STOP:
            found.add(tok)
    return frozenset(found)


def _day(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return Date.fromisoformat(iso).toordinal()
    except ValueError:
        return None


def find_twins(
    articles: Sequence[Article],
    embed: Callable[[list[str]], np.ndarray],
    config: TwinConfig | None = None,
    progress: bool = False,
) -> list[Twin]:
    """Link English releases in ``articles`` to Thai releases in ``articles`` (see module docstring).

    ``embed`` maps texts to L2-normalised vectors (e.g. ``Embedder.embed_passages``); it is called
    once, on the English releases and the Thai candidates only. Releases without a date are never
    linked. Returns the twins sorted by English id.
    """
    cfg = config or TwinConfig()
    english = [
        a for a in articles
        if a.language == "en" and _day(a.date) is not None and _english_title(a) and not is_list_release(a.title)
    ]
    thai = sorted(
        (a for a in articles if a.language == "th" and _day(a.date) is not None and not is_list_release(a.title)),
        key=lambda a: a.date or "",
    )
    if not english or not thai:
        return []
    thai_days = [_day(a.date) or 0 for a in thai]
    thai_ev: dict[int, frozenset[str]] = {}

    def th_evidence(i: int) -> frozenset[str]:
        if i not in thai_ev:
            thai_ev[i] = evidence(twin_text(thai[i], cfg.lead_chars))
        return thai_ev[i]

    # 1-2: candidates by date window and shared evidence.
    candidates: list[list[tuple[int, tuple[str, ...], int]]] = []
    iterator = english
    if progress:
        from tqdm import tqdm

        iterator = tqdm(english, desc="twin candidates", unit="release")
    for en in iterator:
        day = _day(en.date) or 0
        ev = evidence(twin_text(en, cfg.lead_chars))
        lo = bisect.bisect_left(thai_days, day - cfg.window_days)
        hi = bisect.bisect_right(thai_days, day + cfg.window_days)
        scored = []
        if ev:
            for i in range(lo, hi):
                shared = ev & th_evidence(i)
                if shared:
                    scored.append((i, tuple(sorted(shared)), abs(thai_days[i] - day)))
        scored.sort(key=lambda c: (-len(c[1]), c[2], thai[c[0]].id))
        candidates.append(scored[: cfg.max_candidates])

    # 3: dense similarity of the English releases and the union of their candidates.
    th_needed = sorted({i for cands in candidates for i, _, _ in cands})
    if not th_needed:
        return []
    en_rows = [k for k, c in enumerate(candidates) if c]
    texts = [twin_text(english[k], cfg.lead_chars) for k in en_rows] + [twin_text(thai[i], cfg.lead_chars) for i in th_needed]
    vectors = np.asarray(embed(texts), dtype=np.float32)
    en_vec = {k: vectors[j] for j, k in enumerate(en_rows)}
    th_vec = {i: vectors[len(en_rows) + j] for j, i in enumerate(th_needed)}

    best_for_en: dict[int, Twin] = {}
    best_score_for_th: dict[int, float] = {}
    for k in en_rows:
        best: Twin | None = None
        best_i = -1
        for i, shared, days in candidates[k]:
            cos = float(en_vec[k] @ th_vec[i])
            score = cos + min(cfg.max_bonus, cfg.evidence_bonus * len(shared))
            best_score_for_th[i] = max(best_score_for_th.get(i, -1.0), score)
            if best is None or score > best.score:
                best = Twin(english[k].id, thai[i].id, cos, score, shared, days)
                best_i = i
        if best is not None and best.score >= cfg.min_cosine:
            best_for_en[best_i] = best if best_i not in best_for_en or best.score > best_for_en[best_i].score else best_for_en[best_i]
    # 4: mutual best.
    twins = [t for i, t in best_for_en.items() if t.score >= best_score_for_th[i] - 1e-9]
    twins.sort(key=lambda t: t.en_id)
    log.info("twins: %d English releases, %d linked", len(english), len(twins))
    return twins


def periods(days: Iterable[int], reach: int) -> list[tuple[str, str]]:
    """The days within ``reach`` of any of ``days`` (ordinals), as merged inclusive ISO date ranges."""
    merged: list[list[int]] = []
    for day in sorted(set(days)):
        if merged and day - reach <= merged[-1][1] + 1:
            merged[-1][1] = day + reach
        else:
            merged.append([day - reach, day + reach])
    return [(Date.fromordinal(lo).isoformat(), Date.fromordinal(hi).isoformat()) for lo, hi in merged]


def link_twins(writer, embed: Callable[[list[str]], np.ndarray], config: TwinConfig | None = None,
               progress: bool = False) -> int | None:
    """Link the twins that the articles written since the last linking can change (module doc) and
    store them (``writer``: :class:`~thaigov_search.store.writer.IndexWriter`). Returns how many
    twins the re-linked span holds, None when no dated article was written since."""
    cfg = config or TwinConfig()
    generation, dates = writer.twins_pending()
    days = [d for d in (_day(x) for x in dates) if d is not None]
    if not days:
        return None
    scope = periods(days, 2 * cfg.window_days)
    rows = writer.articles_dated(periods(days, 4 * cfg.window_days), cfg.lead_chars)
    rowid_of = {article.id: rowid for rowid, article in rows}
    date_of = {article.id: article.date or "" for _, article in rows}
    found = find_twins([article for _, article in rows], embed, cfg, progress=progress)
    inside = [t for t in found if any(lo <= date_of[t.en_id] <= hi for lo, hi in scope)]
    writer.replace_twins(scope, [(rowid_of[t.en_id], rowid_of[t.th_id], t.score, " ".join(t.shared)) for t in inside],
                         generation)
    return len(inside)
