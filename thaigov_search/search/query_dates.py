"""Years and months named in a query: ``ครม. อนุมัติ ... ปี 2561``, ``cabinet rice 2018``, ``๒๕๖๑``,
``มีนาคม 2563``, ``May 2022``.

The read path uses them as a *soft* preference (:func:`date_bonus`: releases published in the named
year, or month, rank a little higher) and offers them as a suggested filter; it never drops a
release for its date, because a query's year is often the year of the event or the budget, not of
the release (a 2024 budget is announced in 2023).

Recognised: Buddhist-era years 2500-2599 (``2561``, ``พ.ศ. 2561``), Common-Era years 1990-2039 as a
whole number (not inside ``1,990`` or ``2018-08-29``'s neighbours), two-digit Buddhist-era years
after ``ปี``/``พ.ศ.`` or a Thai month (``ปี 61``, ``มี.ค. 63``; 40-99 only), Thai month names full and abbreviated (``มีนาคม``, ``มี.ค.``),
English month names (``March``, ``Sept``; ``May`` only capitalised or next to a year). Thai digits
are read as digits (the query is normalised first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from thaigov_search.core.thai_text import normalize_text

_TH_MONTHS = {
    "มกราคม": 1, "กุมภาพันธ์": 2, "มีนาคม": 3, "เมษายน": 4, "พฤษภาคม": 5, "มิถุนายน": 6,
    "กรกฎาคม": 7, "สิงหาคม": 8, "กันยายน": 9, "ตุลาคม": 10, "พฤศจิกายน": 11, "ธันวาคม": 12,
    "ม.ค.": 1, "ก.พ.": 2, "มี.ค.": 3, "เม.ย.": 4, "พ.ค.": 5, "มิ.ย.": 6,
    "ก.ค.": 7, "ส.ค.": 8, "ก.ย.": 9, "ต.ค.": 10, "พ.ย.": 11, "ธ.ค.": 12,
}  # fmt: skip
_EN_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12, "jan": 1, "feb": 2, "mar": 3, "apr": 4,
    "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_TH_MONTH_RE = re.compile("|".join(re.escape(m) for m in sorted(_TH_MONTHS, key=len, reverse=True)))
_EN_MONTH_RE = re.compile(r"\b(" + "|".join(sorted(_EN_MONTHS, key=len, reverse=True)) + r")\b\.?", re.IGNORECASE)
_YEAR_RE = re.compile(r"(?<![\d,./:-])(25\d\d|19[89]\d|20[0-3]\d)(?![\d,]\d|\.\d)")
_SHORT_BE_RE = re.compile(r"(?:ปี|พ\.\s?ศ\.)\s*(\d\d)(?!\d)")


@dataclass(frozen=True)
class DateHint:
    """What the query says about time: a Common-Era year, optionally a month (1-12)."""

    year: int | None
    month: int | None = None

    def range(self) -> tuple[str, str] | None:
        """The ISO date range it names (a suggested filter), None without a year."""
        if self.year is None:
            return None
        if self.month is None:
            return f"{self.year:04d}-01-01", f"{self.year:04d}-12-31"
        last = (31, 29 if self.year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[self.month - 1]
        return f"{self.year:04d}-{self.month:02d}-01", f"{self.year:04d}-{self.month:02d}-{last:02d}"


def date_hint(query: str) -> DateHint | None:
    """The first year (and a month named in the query) found in ``query``, or None."""
    text = normalize_text(query)
    years: list[tuple[int, int]] = []  # (position, CE year)
    for m in _YEAR_RE.finditer(text):
        value = int(m.group(1))
        years.append((m.start(), value - 543 if value >= 2500 else value))
    for m in _SHORT_BE_RE.finditer(text):
        if int(m.group(1)) >= 40:  # 2540-2599 BE; "ปี 12" is not a year
            years.append((m.start(1), 2500 + int(m.group(1)) - 543))
    months: list[tuple[int, int]] = []
    for m in _TH_MONTH_RE.finditer(text):
        months.append((m.start(), _TH_MONTHS[m.group(0)]))
        short = re.match(r"\s*(\d\d)(?!\d)", text[m.end():])  # "15 มี.ค. 63": a two-digit Buddhist-era year
        if short and int(short.group(1)) >= 40:
            years.append((m.end(), 2500 + int(short.group(1)) - 543))
    for m in _EN_MONTH_RE.finditer(text):
        word = m.group(1)
        if word.lower() == "may" and not (word[0] == "M" or years):
            continue  # "may" the verb
        if word.lower() in ("mar", "jan", "jun", "dec", "oct", "aug", "nov", "sep") and word[0].islower() and not years:
            continue  # short lowercase words that are rarely months without a year
        months.append((m.start(), _EN_MONTHS[word.lower()]))
    if not years and not months:
        return None
    year = min(years)[1] if years else None
    month = min(months)[1] if months else None
    if year is None:
        return None  # a month alone ("มีนาคม") names no period precise enough to prefer
    return DateHint(year, month)


def date_bonus(hint: DateHint | None, doc_date: str | None) -> float:
    """How well a release's date fits the hint: 1 same month (or same year when no month is
    named), 0.5 same year but another month, 0 otherwise or undated."""
    if hint is None or hint.year is None or not doc_date or len(doc_date) < 7:
        return 0.0
    try:
        year, month = int(doc_date[:4]), int(doc_date[5:7])
    except ValueError:
        return 0.0
    if year != hint.year:
        return 0.0
    if hint.month is None or hint.month == month:
        return 1.0
    return 0.5
