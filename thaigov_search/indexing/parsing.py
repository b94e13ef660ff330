"""Raw thaigov.go.th releases (and generic JSONL fields) -> :class:`~thaigov_search.core.article.Article`.

The shared corpus keeps each release's page text verbatim (see ``/work/shared/data/README.md``)::

    รัฐบาลไทย-<section>-<title>
    <Thai date line, e.g. วันพุธที่ 29 สิงหาคม 2561>
    [view counter, dd/mm/BBBB date, "พิมพ์", the title again, stray CSS/JS from the web page]
    <body paragraphs>
    [****** ruler, hashtags]
    ที่มา : http://www.thaigov.go.th/news/contents/details/NNN

Things seen in the data and handled here: CSS rules (``p.p1 {margin: ...}``, 2018 pages), a
flowplayer JavaScript block (2017 video pages), "Your browser does not support the audio element."
lines, title lines missing the section (``รัฐบาลไทย-<title>``) and 2014-2016 radio transcripts with
no prefix at all (date inside the first paragraph), and 106 empty placeholder pages dated
``1 มกราคม 2513`` (1970-01-01, an epoch default), which raise :class:`EmptyArticleError`.
English "Government News" releases carry the same Thai header date line as Thai releases, so the
header date (the publication date) wins; an English date in the body is only a fallback.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re

from thaigov_search.core.article import Article, RawRecord
from thaigov_search.core.thai_text import normalize_text, thai_latin_counts
from thaigov_search.indexing.dates import TH_MONTH_RE, parse_date_text

log = logging.getLogger(__name__)

__all__ = [
    "EmptyArticleError",
    "parse_thaigov_text",
    "article_from_fields",
    "parse_record",
    "detect_language",
]


class EmptyArticleError(ValueError):
    """The record has neither a title nor a body: nothing to index."""


# --------------------------------------------------------------------------- line classes

_PREFIX = "รัฐบาลไทย-"
_KNOWN_SECTIONS = ("ข่าวทำเนียบรัฐบาล",)
_PLACEHOLDER_DATE = "1970-01-01"  # "วันพฤหัสบดีที่ 1 มกราคม 2513" on empty pages

# A whole line that is only a Thai date: วันพุธที่ 29 สิงหาคม 2561 (weekday optional)
_RE_DATE_LINE = re.compile(
    rf"^(?:วัน\S{{2,9}}?(?:ที่)?\s*)?\d{{1,2}}\s*(?:{TH_MONTH_RE})\s*(?:พ\.\s?ศ\.\s*)?\d{{2,4}}$"
)
_RE_SLASH_LINE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
# Thai date with a weekday anywhere in a line (radio transcripts: "... วันศุกร์ที่ 28 พฤศจิกายน 2557 เวลา 20.15 น.")
_RE_WEEKDAY_DATE = re.compile(rf"วัน\S{{2,9}}?(?:ที่)?\s*\d{{1,2}}\s*(?:{TH_MONTH_RE})\s*\d{{4}}")
_RE_NUMBER_LINE = re.compile(r"^[\d,.]+$")
_RE_SOURCE_LINE = re.compile(r"^ที่มา\s*:?\s*(https?://(?:www\.)?thaigov\.go\.th\S*)\s*$", re.IGNORECASE)
# ``p.p1 {margin: ...}``, ``span.s1 {font-kerning: none}``, ``@page { margin: 0.0in }``: an ASCII selector
# list and one {...} block filling the line. One character class, no nested quantifiers: linear time.
_RE_CSS_LINE = re.compile(r"^@?[A-Za-z0-9_.#:*>+~\-\[\]=\"'(), ]+\{[^{}]*\}$")
_RE_JS_START = re.compile(r"^(?:\$\(|var\s+\w+\s*=|flowplayer[.(]|jwplayer\()")
_RE_BROWSER_LINE = re.compile(r"^(?:sorry, )?your browser (?:does not|doesn't) support", re.IGNORECASE)
_RE_HTML_TAG = re.compile(
    r"</?(?:div|span|p|a|img|br|hr|iframe|script|style|font|b|i|u|strong|em|table|tbody|tr|td|th|ul|ol|li)"
    r"\b[^<>\n]*>",
    re.IGNORECASE,
)
_RE_HTML_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{2,6}|#x[0-9a-fA-F]{2,5});")


def _squash(s: str) -> str:
    """Comparison key for title repeats: no spaces, case-folded."""
    return "".join(s.split()).casefold()


def _is_ruler_or_symbols(s: str) -> bool:
    """A line with no letter or digit at all: ``*****``, ``-----``, ``.....``, ``/////``."""
    return not any(ch.isalnum() for ch in s)


def detect_language(title: str, body: str) -> str:
    """``"en"`` when the text is mostly Latin script, else ``"th"``."""
    thai, latin = thai_latin_counts(body or title)
    if thai == 0 and latin == 0 and body:
        thai, latin = thai_latin_counts(title)
    return "en" if latin > thai else "th"


def _drop_js_block(lines: list[str], i: int) -> int:
    """Index after the JavaScript block starting at ``lines[i]`` (ends with ``});``), or i+1."""
    for j in range(i + 1, min(len(lines), i + 80)):
        if lines[j].strip() in ("});", "})", "});</script>"):
            return j + 1
    return i + 1


def _clean_markup(text: str) -> str:
    if "&" in text:
        text = _RE_HTML_ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    if "<" in text:
        text = _RE_HTML_TAG.sub(" ", text)
    return text


# --------------------------------------------------------------------------- thaigov text


def _split_title_line(first: str, later: set[str]) -> tuple[str, str, list[str]]:
    """``รัฐบาลไทย-<section>-<title>`` -> (section, title, warnings)."""
    rest = first[len(_PREFIX) :].strip()
    for sec in _KNOWN_SECTIONS:
        if rest.startswith(sec + "-"):
            return sec, rest[len(sec) + 1 :].strip(), []
    m = re.match(r"^([^\s-]{2,30})-(.+)$", rest)
    if m:
        cand, remainder = m.group(1), m.group(2).strip()
        rest_repeated = _squash(rest) in later
        if not rest_repeated and (_squash(remainder) in later or cand.startswith("ข่าว")):
            return cand, remainder, []
    return "", rest, ["no section in title line"] if rest else []


def _title_from_untitled(lines: list[str]) -> tuple[str, int]:
    """Title for texts without the ``รัฐบาลไทย-`` prefix: the first paragraph when short.

    Returns (title, number of lines consumed). Long first paragraphs stay in the body and the title
    is their beginning, cut at a space.
    """
    para: list[str] = []
    for ln in lines:
        if not ln.strip():
            if para:
                break
            continue
        para.append(ln.strip())
    joined = " ".join(para)
    if para and len(joined) <= 300:
        consumed = 0
        seen = 0
        for k, ln in enumerate(lines):
            if ln.strip():
                seen += 1
            if seen == len(para):
                consumed = k + 1
                break
        return joined, consumed
    return _short_title(para[0] if para else ""), 0


def _short_title(line: str) -> str:
    """``line`` as a title: whole when short, else its first ~120 characters cut at a space."""
    if len(line) <= 200:
        return line
    cut = line.rfind(" ", 0, 120)
    return line[: cut if cut > 40 else 120].rstrip() + "…"


def parse_thaigov_text(doc_id: str, text: str, url: str = "") -> Article:
    """Parse one raw thaigov release into a clean :class:`Article`.

    Odd inputs produce ``Article.warnings`` entries (``"no date found"``, ``"no title prefix"``,
    ...) instead of errors. Raises :class:`EmptyArticleError` when both title and body are empty.
    """
    warnings: list[str] = []
    lines = normalize_text(_clean_markup(text)).split("\n")
    # first non-empty line
    k = 0
    while k < len(lines) and not lines[k].strip():
        k += 1
    lines = lines[k:]
    if not lines or not lines[0]:
        raise EmptyArticleError(f"{doc_id}: empty text")

    head_keys = {_squash(ln) for ln in lines[1:12] if ln and len(ln) < 400}
    section = ""
    if lines[0].startswith(_PREFIX):
        section, title, w = _split_title_line(lines[0], head_keys)
        warnings += w
        rest = lines[1:]
    else:
        warnings.append("no title prefix")
        title, consumed = _title_from_untitled(lines)
        rest = lines[consumed:]
    title = " ".join(title.split())
    title_key = _squash(title)
    title_len, slack = len(title), len(title) // 3 + 4  # cheap length filter before _squash

    date: str | None = None
    source_url = ""
    body: list[str] = []
    in_header = True
    i = 0
    while i < len(rest):
        s = rest[i].strip()
        i += 1
        if not s:
            if body and body[-1] != "":
                body.append("")
            continue
        if _RE_JS_START.match(s):
            i = _drop_js_block(rest, i - 1)
            continue
        m = _RE_SOURCE_LINE.match(s)
        if m:
            source_url = source_url or m.group(1)
            continue
        if (
            s == "พิมพ์"
            or (s[-1] == "}" and _RE_CSS_LINE.match(s))
            or _RE_BROWSER_LINE.match(s)
            or _is_ruler_or_symbols(s)
            or (title_key and abs(len(s) - title_len) <= slack and _squash(s) == title_key)
        ):
            continue
        if in_header:
            if _RE_DATE_LINE.match(s) or _RE_SLASH_LINE.match(s):
                d = parse_date_text(s)
                if date is None and d is not None:
                    date = d
                continue
            if _RE_NUMBER_LINE.match(s):
                continue  # page view counter
            in_header = False
        elif date is not None and (_RE_DATE_LINE.match(s) or _RE_SLASH_LINE.match(s)):
            if parse_date_text(s) == date:
                continue  # the header date repeated
        body.append(s)
    while body and body[-1] == "":
        body.pop()
    body_text = "\n".join(body)

    if date == _PLACEHOLDER_DATE:
        warnings.append("placeholder date 1970-01-01 ignored")
        date = None
    if date is None:
        # transcripts: date inside the first lines; English releases: English date in the lead
        lead = "\n".join([title, *body[:6]])
        m = _RE_WEEKDAY_DATE.search(lead)
        if m:
            date = parse_date_text(m.group(0))
        if date is None:
            date = parse_date_text(lead, kinds=("en_mdy", "en_dmy"))
        if date is None:
            date = parse_date_text(lead)
        if date is None:
            warnings.append("no date found")
        else:
            warnings.append("date taken from the text, not a date line")

    if not title and not body_text:
        raise EmptyArticleError(f"{doc_id}: no title and no body")
    if not title:
        title = _short_title(body[0])
        warnings.append("empty title; the first body line is used")
    if not body_text:
        warnings.append("empty body")

    return Article(
        id=doc_id,
        title=title,
        body=body_text,
        date=date,
        category=section,
        url=_choose_url(source_url, url),
        language=detect_language(title, body_text),
        warnings=tuple(warnings),
    )


def _choose_url(source_url: str, given: str) -> str:
    """The ``ที่มา`` URL unless it is only the site root and a better one was given."""
    if source_url and (re.search(r"thaigov\.go\.th/.+", source_url) or not given):
        return source_url
    return given or source_url


# --------------------------------------------------------------------------- generic fields


def article_from_fields(doc_id: str, fields: dict) -> Article:
    """Build an :class:`Article` from generic JSONL fields ``title, body[, date, category, url]``.

    Text is normalised, the date parsed from any supported format (kept as None with a warning
    when unparseable), the language detected (an explicit ``language`` of ``th``/``en`` wins).
    Raises :class:`EmptyArticleError` when title and body are both empty.
    """

    def get(name: str) -> str:
        v = fields.get(name)
        return "" if v is None else str(v)

    warnings: list[str] = []
    title = " ".join(normalize_text(get("title")).split())
    body = normalize_text(get("body"))
    if not title and not body:
        raise EmptyArticleError(f"{doc_id}: no title and no body")
    date: str | None = None
    raw_date = get("date").strip()
    if raw_date:
        date = parse_date_text(raw_date)
        if date is None:
            warnings.append(f"unparseable date {raw_date[:40]!r}")
    if not title:
        warnings.append("empty title")
    if not body:
        warnings.append("empty body")
    lang = get("language").strip().lower()
    if lang not in ("th", "en"):
        lang = detect_language(title, body)
    return Article(
        id=doc_id,
        title=title,
        body=body,
        date=date,
        category=" ".join(normalize_text(get("category")).split()),
        url=get("url").strip(),
        language=lang,
        warnings=tuple(warnings),
    )


_SOURCE_SECTION = re.compile(r"^(?P<section>[^/]+?)\s*_\d+(?:_.*)?\.txt$")


def section_from_source(source: str) -> str:
    """The news section named by a corpus file name (``ด้านเศรษฐกิจ_4.txt`` -> ``ด้านเศรษฐกิจ``).

    The title line's ``รัฐบาลไทย-<section>-`` prefix says ``ข่าวทำเนียบรัฐบาล`` for almost every
    release, so the file name is the only place the real section (economy, society, security,
    Government News, ...) survives. Dated paths (``data/2023/02/15/_1_<uuid>.txt``) name none.
    """
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    match = _SOURCE_SECTION.match(name)
    if not match:
        return ""
    return " ".join(normalize_text(match.group("section")).split())


def parse_record(rec: RawRecord) -> Article:
    """Parse a :class:`RawRecord`: raw thaigov ``text`` or generic ``fields``."""
    if rec.text is not None:
        article = parse_thaigov_text(rec.id, rec.text, rec.url)
        section = section_from_source(rec.source)
        return dataclasses.replace(article, category=section) if section else article
    if rec.fields is not None:
        return article_from_fields(rec.id, rec.fields)
    raise EmptyArticleError(f"{rec.id}: record has neither text nor fields ({rec.origin})")
