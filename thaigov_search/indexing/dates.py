"""Dates in releases -> ISO ``YYYY-MM-DD`` (Gregorian).

Thai dates (``29 สิงหาคม 2561``, ``29 ส.ค. 61``, Buddhist era), ``dd/mm/yyyy`` (either era), ISO
dates, and English dates (``August 29, 2018``, ``29 August 2018``); a year is read as Buddhist era
when it is above 2400 or marked so (``พ.ศ.``).
"""

from __future__ import annotations

import datetime as _dt
import re

from thaigov_search.core.thai_text import normalize_text

_TH_MONTHS_FULL = {
    "มกราคม": 1, "กุมภาพันธ์": 2, "มีนาคม": 3, "เมษายน": 4, "พฤษภาคม": 5, "มิถุนายน": 6,
    "กรกฎาคม": 7, "สิงหาคม": 8, "กันยายน": 9, "ตุลาคม": 10, "พฤศจิกายน": 11, "ธันวาคม": 12,
}  # fmt: skip
_TH_MONTHS_ABBR = {
    "ม.ค.": 1, "ก.พ.": 2, "มี.ค.": 3, "เม.ย.": 4, "พ.ค.": 5, "มิ.ย.": 6,
    "ก.ค.": 7, "ส.ค.": 8, "ก.ย.": 9, "ต.ค.": 10, "พ.ย.": 11, "ธ.ค.": 12,
}  # fmt: skip
_EN_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip


def _abbr_regex(abbr: str) -> str:
    """``ส.ค.`` -> regex for ``ส.ค.``, ``ส.ค``, ``ส. ค.`` and ``สค.`` (dots optional)."""
    parts = [p for p in abbr.split(".") if p]
    return r"\.?\s?".join(re.escape(p) for p in parts) + r"\.?"


_TH_MONTH_LOOKUP: dict[str, int] = {**_TH_MONTHS_FULL}
for _abbr, _num in _TH_MONTHS_ABBR.items():
    _TH_MONTH_LOOKUP[re.sub(r"[.\s]", "", _abbr)] = _num

TH_MONTH_RE = "|".join(
    [re.escape(m) for m in sorted(_TH_MONTHS_FULL, key=len, reverse=True)]
    + [_abbr_regex(a) for a in sorted(_TH_MONTHS_ABBR, key=len, reverse=True)]
)
_EN_MONTH_RE = "|".join(sorted(_EN_MONTHS, key=len, reverse=True))

# 29 สิงหาคม 2561 / 29 ส.ค. 61 / 25 ก.พ.63 / 17 ส.ค. พ.ศ. 2561 / 1 ม.ค. ค.ศ. 2021
_RE_TH_DATE = re.compile(
    rf"(?<!\d)(\d{{1,2}})\s*({TH_MONTH_RE})\s*((?:พ\.\s?ศ\.|ค\.\s?ศ\.)\s*)?(\d{{4}}|\d{{2}})(?!\d)"
)
# 29/08/2561, 29/8/2018
_RE_SLASH_DATE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
# 2018-08-29 (also 2018-08-29T10:00:00)
_RE_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
# August 29, 2018 / Aug. 29th 2018 / 29 August 2018 / 29th Aug, 2018
_RE_EN_DATE_MDY = re.compile(
    rf"\b({_EN_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)", re.IGNORECASE
)
_RE_EN_DATE_DMY = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)?\s+({_EN_MONTH_RE})\.?,?\s+(\d{{4}})(?!\d)", re.IGNORECASE
)


def _to_ce(year: int, era: str | None = None) -> int:
    """Buddhist-era years (>= 2400, or 2-digit Thai years) -> Common Era."""
    if era and era.startswith("ค"):
        return year
    if year < 100:
        return year + 2500 - 543  # 2-digit years in Thai dates are Buddhist era: 61 -> 2561
    if year >= 2400:
        return year - 543
    return year


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _match_to_iso(kind: str, m: re.Match[str]) -> str | None:
    if kind == "th":
        month = _TH_MONTH_LOOKUP.get(re.sub(r"[.\s]", "", m.group(2)))
        if month is None:
            return None
        era = re.sub(r"[.\s]", "", m.group(3) or "") or None
        return _iso(_to_ce(int(m.group(4)), era), month, int(m.group(1)))
    if kind == "slash":
        return _iso(_to_ce(int(m.group(3))), int(m.group(2)), int(m.group(1)))
    if kind == "iso":
        return _iso(_to_ce(int(m.group(1))), int(m.group(2)), int(m.group(3)))
    if kind == "en_mdy":
        return _iso(_to_ce(int(m.group(3))), _EN_MONTHS[m.group(1).lower()], int(m.group(2)))
    if kind == "en_dmy":
        return _iso(_to_ce(int(m.group(3))), _EN_MONTHS[m.group(2).lower()], int(m.group(1)))
    raise AssertionError(kind)


_DATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("th", _RE_TH_DATE),
    ("slash", _RE_SLASH_DATE),
    ("iso", _RE_ISO_DATE),
    ("en_mdy", _RE_EN_DATE_MDY),
    ("en_dmy", _RE_EN_DATE_DMY),
)


def parse_date_text(s: str, kinds: tuple[str, ...] | None = None) -> str | None:
    """Find the first valid date in ``s`` and return it as ISO ``YYYY-MM-DD`` (Gregorian).

    Accepts Thai dates with full or abbreviated months (``วันพุธที่ 29 สิงหาคม 2561``,
    ``29 ส.ค. 61``), ``dd/mm/yyyy``, ISO ``2018-08-29`` and English dates (``August 29, 2018``,
    ``29 August 2018``). Buddhist-era years (>= 2400, or two-digit Thai years) become CE = BE - 543.
    ``kinds`` limits the formats tried (``th``, ``slash``, ``iso``, ``en_mdy``, ``en_dmy``).
    Returns None when nothing valid is found.
    """
    if not s:
        return None
    s = normalize_text(s) if not s.isascii() else s
    found: list[tuple[int, str]] = []
    for kind, pattern in _DATE_PATTERNS:
        if kinds is not None and kind not in kinds:
            continue
        for m in pattern.finditer(s):
            iso = _match_to_iso(kind, m)
            if iso is not None:
                found.append((m.start(), iso))
                break
    if not found:
        return None
    return min(found)[1]
