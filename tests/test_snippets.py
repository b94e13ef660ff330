"""Snippets: a window around the first match, whole words only, matches marked, HTML escaped."""

from __future__ import annotations

from thaigov_search.search.snippets import SNIPPET_CHARS, make_snippet, term_hits

LEAD = "นายกรัฐมนตรีเป็นประธานการประชุมคณะรัฐมนตรี ณ ทำเนียบรัฐบาล "
MATCH = "กรมชลประทานเร่งระบายน้ำช่วยเหลือเกษตรกรที่ได้รับผลกระทบจากน้ำท่วม"


def test_match_deep_in_a_long_passage_is_shown_and_marked() -> None:
    text = LEAD * 30 + MATCH + " " + LEAD * 5
    snippet = make_snippet(text, {"น้ำท่วม", "เกษตรกร"})
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert "<mark>เกษตรกร</mark>" in snippet and "<mark>น้ำท่วม</mark>" in snippet
    plain = snippet.replace("<mark>", "").replace("</mark>", "").removeprefix("… ").removesuffix(" …")
    assert len(plain) <= SNIPPET_CHARS
    assert plain in text  # whole words from the text, nothing invented


def test_no_match_shows_the_start_of_the_passage() -> None:
    snippet = make_snippet(LEAD * 10, {"วัคซีน"})
    assert snippet.startswith("นายกรัฐมนตรี") and "<mark>" not in snippet


def test_html_in_text_is_escaped() -> None:
    snippet = make_snippet('ประกาศ <script>alert("x")</script> น้ำท่วม', {"น้ำท่วม"})
    assert "<script>" not in snippet and "&lt;script&gt;" in snippet


def test_term_hits_counts_distinct_query_terms_present() -> None:
    assert term_hits(MATCH, {"น้ำท่วม", "เกษตรกร", "วัคซีน"}) == 2
    assert term_hits(MATCH, set()) == 0
