"""Raw thaigov releases -> clean Articles, on real records cut from the shared corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from thaigov_search.core.article import Article, RawRecord
from thaigov_search.indexing.dates import parse_date_text
from thaigov_search.indexing.parsing import (
    EmptyArticleError,
    article_from_fields,
    parse_record,
    parse_thaigov_text,
)

FIXTURE = Path(__file__).parent / "fixtures" / "thaigov-sample.jsonl"


@pytest.fixture(scope="module")
def raw() -> dict[str, dict]:
    with open(FIXTURE, encoding="utf-8") as f:
        return {d["id"]: d for d in map(json.loads, f)}


def parse(raw: dict[str, dict], doc_id: str) -> Article:
    d = raw[doc_id]
    return parse_thaigov_text(d["id"], d["text"], d["url"])


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("วันพุธที่ 29 สิงหาคม 2561", "2018-08-29"),  # header line, Buddhist era
        ("29 ส.ค. 2561", "2018-08-29"),  # abbreviated month
        ("วันนี้ (25 ก.พ.63) เวลา 19.30 น.", "2020-02-25"),  # abbreviated month, 2-digit BE year
        ("วันที่ 11 พ.ค. 65 เวลา 08.45 น.", "2022-05-11"),
        ("17/02/2566", "2023-02-17"),  # dd/mm/BBBB line
        ("August 29, 2018", "2018-08-29"),
        ("29 August 2018", "2018-08-29"),
        ("February 15, 2023, at 1845hrs, at the Parliament House", "2023-02-15"),
        ("2018-08-29", "2018-08-29"),
        ("2018-08-29T10:00:00+07:00", "2018-08-29"),
        ("วันศุกร์26 กุมภาพันธ์ 2559", "2016-02-26"),  # transcript typo: no "ที่", no space
        ("วันศุกร์ที่ 15 เมษายน 2016", "2016-04-15"),  # Thai month with a CE year
        ("๒๙ สิงหาคม ๒๕๖๑", "2018-08-29"),  # Thai digits
        ("1 ม.ค. ค.ศ. 2021", "2021-01-01"),
    ],
)
def test_parse_date_text_formats(text: str, iso: str):
    assert parse_date_text(text) == iso


@pytest.mark.parametrize("text", ["", "ไม่มีวันที่", "31 ก.พ. 2561", "99/99/2561", "ครั้งที่ 2/2561"])
def test_parse_date_text_rejects_non_dates(text: str):
    assert parse_date_text(text) is None


# --------------------------------------------------------------------------- thaigov releases


def test_egov_forum_release(raw):
    a = parse(raw, "tg012535")
    assert a.title == "รองนายกฯ ประจินฯ เป็นประธานเปิดงานสัมมนา “eGovernment Forum 2018”"
    assert a.category == "ข่าวทำเนียบรัฐบาล"
    assert a.date == "2018-08-29"
    assert a.url == "http://www.thaigov.go.th/news/contents/details/15018"
    assert a.language == "th"
    assert a.warnings == ()
    assert "eGovernment Forum 2018" in a.body
    assert not a.body.startswith("วันพุธที่")


def test_title_repeats_date_lines_and_source_line_removed(raw):
    a = parse(raw, "tg074090")  # 2024: date line, dd/mm/BBBB, พิมพ์, title twice
    assert a.date == "2024-04-23"
    lines = a.body.split("\n")
    assert a.title not in lines
    assert "พิมพ์" not in lines
    assert "23/04/2567" not in a.body
    assert "วันอังคารที่ 23 เมษายน 2567" not in a.body
    assert "ที่มา :" not in a.body
    assert a.url == "https://www.thaigov.go.th/news/contents/details/82056"
    assert a.body.startswith("วันที่ 23 เมษายน 2567 นายคารม พลพรกลาง")
    # the zero-width space opening the raw title is gone
    assert a.title.startswith("ครม.รับทราบ")


def test_css_rules_from_2018_pages_removed(raw):
    for doc_id in ("tg011668", "tg009659"):
        assert "{" in raw[doc_id]["text"]
        a = parse(raw, doc_id)
        assert "{" not in a.body and "margin:" not in a.body and "font-kerning" not in a.body
        assert a.date and a.date.startswith("2018-")
    assert "นางสาวอัจฉรินทร์ พัฒนพันธ์ชัย" in parse(raw, "tg011668").body


def test_flowplayer_javascript_removed(raw):
    a = parse(raw, "tg005424")
    assert "flowplayer" not in a.body and "video-player" not in a.body and "//" not in a.body
    assert "ศธ.บรรลุข้อตกลงร่วมกับธนาคารออมสิน" in a.body


def test_view_counter_and_print_button_removed(raw):
    a = parse(raw, "tg007451")  # 2017 page with a "4,023" view counter
    assert "4,023" in raw["tg007451"]["text"]
    assert a.date == "2017-03-21"
    assert a.body == "พลเอก ประยุทธ์ จันทร์โอชา นายกรัฐมนตรี เป็นประธานการประชุมคณะรัฐมนตรี"


def test_rulers_and_audio_player_text_removed(raw):
    for doc_id, d in raw.items():
        try:
            a = parse_thaigov_text(doc_id, d["text"], d["url"])
        except EmptyArticleError:
            continue
        for line in a.body.split("\n"):
            assert not re.fullmatch(r"[*\-_=+./#~ ]+", line), (doc_id, line)
            assert not re.fullmatch(r"[\d,]+", line.strip()) or doc_id == "tg028453", (doc_id, line)
            assert "Your browser does not support" not in line
            assert "\u200b" not in line
    assert "Your browser does not support the audio element." in raw["tg022154"]["text"]


def test_english_release_is_english_with_header_date(raw):
    a = parse(raw, "tg057576")
    assert a.language == "en"
    assert a.title == "PM denounces Government’s failure in national administration"
    assert a.date == "2023-02-17"  # the Thai header (publication) date; the body says February 15
    assert a.body.startswith("February 15, 2023, at 1845hrs")


def test_english_release_without_thai_date_line_uses_english_date(raw):
    text = raw["tg057576"]["text"]
    stripped = re.sub(r"\nวัน\S+ที่ 17 กุมภาพันธ์ 2566\n17/02/2566\n", "\n", text)
    assert stripped != text
    a = parse_thaigov_text("tg057576", stripped)
    assert a.date == "2023-02-15"
    assert a.language == "en"


def test_abbreviated_thai_date_used_when_date_line_missing(raw):
    # tg074090's body opens with "วันที่ 23 เมษายน 2567"; tg067524's lead has "(27 พ.ย. 66)"
    text = raw["tg067524"]["text"]
    stripped = re.sub(r"\nวันจันทร์ที่ 27 พฤศจิกายน 2566\n27/11/2566\n", "\n", text)
    a = parse_thaigov_text("tg067524", stripped)
    assert a.date == "2023-11-27"
    assert "date taken from the text, not a date line" in a.warnings


def test_thai_digits_become_arabic(raw):
    a = parse(raw, "tg014309")
    assert "๑" not in a.body and "๒" not in a.body
    assert "15 มกราคม 2562" in a.body


def test_release_without_any_date_gets_warning(raw):
    a = parse(raw, "tg028453")  # 2014 radio transcript: no prefix, no date anywhere
    assert a.date is None
    assert "no date found" in a.warnings
    assert a.title and a.body


def test_transcript_without_prefix_takes_date_from_first_line(raw):
    a = parse(raw, "tg028515")
    assert a.date == "2016-01-23"
    assert "no title prefix" in a.warnings
    assert a.title.startswith("พันเอกหญิง ทักษดา สังขจันทร์")


def test_title_line_without_section(raw):
    a = parse(raw, "tg026843")
    assert a.category == ""
    assert a.title.startswith("ธอส. ช่วยลูกค้าที่อยู่ระหว่างใช้อัตราดอกเบี้ยผิดนัดชำระ")
    assert a.title.endswith("[กระทรวงการคลัง]")
    # a dash inside the title is not a section separator
    b = parse(raw, "tg029913")
    assert b.title.startswith("ดีอีเอส” ประสาน กสทช. หารือไอเอสพี- ค่ายมือถือ")


def test_hashtags_line_stays(raw):
    a = parse(raw, "tg085381")
    assert "#ข่าวพม" in a.body


@pytest.mark.parametrize("doc_id", ["tg029956", "tg057482", "tg031773"])
def test_empty_placeholder_pages_raise(raw, doc_id):
    # "รัฐบาลไทย-" + "วันพฤหัสบดีที่ 1 มกราคม 2513" (the 1970 epoch) + source line only
    with pytest.raises(EmptyArticleError):
        parse(raw, doc_id)
    assert issubclass(EmptyArticleError, ValueError)


def test_title_only_release_keeps_title_with_warning(raw):
    a = parse(raw, "tg000028")  # 2016 video page: title + player script only
    assert a.title == "นำเข้าวีดีโอ"
    assert a.body == ""
    assert "empty body" in a.warnings


def test_every_fixture_record_parses_or_is_empty(raw):
    dated = 0
    for doc_id, d in raw.items():
        try:
            a = parse_thaigov_text(doc_id, d["text"], d["url"])
        except EmptyArticleError:
            continue
        assert a.id == doc_id and a.title
        assert a.language in ("th", "en")
        assert a.date is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", a.date)
        assert a.body == a.body.strip()
        dated += a.date is not None
    assert dated >= len(raw) - 5


def test_url_falls_back_to_given_url():
    text = "รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-สรุปข่าวการประชุมคณะรัฐมนตรี\n\nวันอังคารที่ 23 สิงหาคม 2559\nเนื้อหา"
    a = parse_thaigov_text("x", text, url="https://www.thaigov.go.th/news/contents/details/1")
    assert a.url == "https://www.thaigov.go.th/news/contents/details/1"


def test_empty_text_raises():
    with pytest.raises(EmptyArticleError):
        parse_thaigov_text("x", "  \n\u200b\n")


# --------------------------------------------------------------------------- generic fields


def test_article_from_fields_normalises_and_parses_date():
    a = article_from_fields(
        "g1",
        {
            "title": "  งานสัมมนา\u200bรัฐบาลดิจิทัล  ",
            "body": "จัดขึ้นระหว่างวันที่ ๒๙-๓๐ สิงหาคม ๒๕๖๑",
            "date": "29 ส.ค. 2561",
            "category": "ข่าวทำเนียบรัฐบาล",
            "url": "https://example.go.th/1",
        },
    )
    assert a.title == "งานสัมมนารัฐบาลดิจิทัล"
    assert a.body == "จัดขึ้นระหว่างวันที่ 29-30 สิงหาคม 2561"
    assert a.date == "2018-08-29"
    assert a.category == "ข่าวทำเนียบรัฐบาล"
    assert a.url == "https://example.go.th/1"
    assert a.language == "th"


def test_article_from_fields_english_and_bad_date():
    a = article_from_fields(
        "g2",
        {"title": "PM sends moral support", "body": "July 22, 2021, Government Spokesperson", "date": "soon"},
    )
    assert a.language == "en"
    assert a.date is None
    assert any("unparseable date" in w for w in a.warnings)


def test_article_from_fields_empty_raises():
    with pytest.raises(EmptyArticleError):
        article_from_fields("g3", {"title": " ", "body": "\u200b"})


def test_parse_record_dispatches(raw):
    d = raw["tg012535"]
    a = parse_record(RawRecord(id=d["id"], origin="x:1", text=d["text"], url=d["url"]))
    assert a.date == "2018-08-29"
    g = parse_record(
        RawRecord(id="g", origin="x:2", fields={"title": "ชื่อข่าว", "body": "เนื้อหา", "date": "2018-08-29"})
    )
    assert g.title == "ชื่อข่าว" and g.date == "2018-08-29"
    with pytest.raises(EmptyArticleError):
        parse_record(RawRecord(id="n", origin="x:3"))


def test_empty_title_falls_back_to_first_body_line(raw):
    # a real placeholder page header ("รัฐบาลไทย-" + date line) over a real body
    body = parse(raw, "tg012535").body
    text = "รัฐบาลไทย-\n\n\nวันพุธที่ 29 สิงหาคม 2561\n" + body
    a = parse_thaigov_text("x", text)
    assert a.title == body.split("\n")[0]
    assert a.body == body
    assert a.date == "2018-08-29"
    assert any("empty title" in w for w in a.warnings)


def test_category_comes_from_the_corpus_file_name_when_it_names_a_section() -> None:
    """The title prefix says ข่าวทำเนียบรัฐบาล for nearly every release; the file name keeps the real section."""
    from thaigov_search.core.article import RawRecord
    from thaigov_search.indexing.parsing import parse_record, section_from_source

    assert section_from_source("thaigov-corpus/ด้านเศรษฐกิจ _12.txt") == "ด้านเศรษฐกิจ"
    assert section_from_source("Government News_1.txt") == "Government News"
    assert section_from_source("data/2023/02/15/_1_b826d441-ffa7.txt") == ""
    text = "รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-ครม. อนุมัติมาตรการช่วยเหลือเกษตรกร\n\nวันอังคารที่ 5 มีนาคม 2562\nคณะรัฐมนตรีอนุมัติมาตรการช่วยเหลือเกษตรกรผู้ได้รับผลกระทบจากภัยแล้ง"
    economy = parse_record(RawRecord(id="x1", origin="t:1", text=text, source="ด้านเศรษฐกิจ_4.txt"))
    assert economy.category == "ด้านเศรษฐกิจ"
    dated_path = parse_record(RawRecord(id="x2", origin="t:2", text=text, source="data/2019/03/05/_1_abc.txt"))
    assert dated_path.category == "ข่าวทำเนียบรัฐบาล"
