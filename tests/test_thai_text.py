"""Thai text helpers: normalisation, index tokens, sentence split (real Thai news text)."""

from __future__ import annotations

import re

from thaigov_search.core.thai_text import normalize_text, split_sentences, tokenize_for_index

# From tg012535 (eGovernment Forum 2018), shortened
LEAD = (
    "พลอากาศเอก ประจิน จั่นตอง รองนายกรัฐมนตรี เป็นประธานเปิดงานสัมมนา “eGovernment Forum 2018” "
    "ภายใต้แนวคิด “Digital Government : Towards Smarter Public Service” ซึ่งกระทรวงดิจิทัลฯ ร่วมกับ "
    "สมาคมอุตสาหกรรมเทคโนโลยีสารสนเทศไทย (ATCI) และหน่วยงานที่เกี่ยวข้อง จัดขึ้นระหว่างวันที่ 29-30 "
    "สิงหาคม 2561 โดยมี นางสาวอัจฉรินทร์ พัฒนพันธ์ชัย ปลัดกระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคม "
    "กล่าวปาฐกถาพิเศษ"
)
# From tg057576 (English "Government News" release)
ENGLISH = (
    "February 15, 2023, at 1845hrs, at the Parliament House, Prime Minister and Defense Minister "
    "Gen. Prayut Chan-o-cha denounced allegations related to the Government’s failure in the 8 years "
    "of its national administration. Deputy Secretary-General to the Prime Minister and Acting "
    "Government Spokesperson Anucha Burapachaisri disclosed gist as follows: According to the Prime "
    "Minister, prior to the year 2014, political conflicts impaired and disrupted the country’s "
    "several development plans and policies. Foreign investors lost their confidence over Thailand’s "
    "stability."
)


def _nonspace(s: str) -> str:
    return re.sub(r"\s+", "", s)


# --------------------------------------------------------------------------- normalize_text


def test_thai_digits_become_arabic_digits():
    # tg014309 writes dates in Thai digits
    assert normalize_text("เมื่อวันที่ ๑๕ มกราคม ๒๕๖๒ นั้น") == "เมื่อวันที่ 15 มกราคม 2562 นั้น"


def test_zero_width_and_soft_hyphen_removed():
    # U+200B opens many 2024-2025 titles, e.g. "​ครม.รับทราบ..."
    assert normalize_text("\u200bครม.รับทราบ\u00adการ\ufeffเป็น\u200dเจ้าภาพ") == "ครม.รับทราบการเป็นเจ้าภาพ"


def test_spaces_collapse_but_paragraph_breaks_stay():
    raw = "   สรุปข่าวการประชุมคณะรัฐมนตรี 21 มีนาคม 2560  \r\n \n\n\n\n\tพลเอก\u00a0\u00a0ประยุทธ์  จันทร์โอชา\t"
    assert normalize_text(raw) == "สรุปข่าวการประชุมคณะรัฐมนตรี 21 มีนาคม 2560\n\nพลเอก ประยุทธ์ จันทร์โอชา"


def test_doubled_sara_e_and_repeated_vowels_fixed():
    assert normalize_text("เเปลก") == "แปลก"
    assert normalize_text("ดีีี") == "ดี"


def test_control_chars_stripped_and_sara_am_survives_nfkc():
    # NFKC decomposes SARA AM; it must come back composed
    assert normalize_text("น้ำ\x07ท่วม…") == "น้ำท่วม..."
    assert "\u0e33" in normalize_text("ทำเนียบรัฐบาล ＡＢＣ")
    assert normalize_text("ทำเนียบรัฐบาล ＡＢＣ") == "ทำเนียบรัฐบาล ABC"


def test_normalize_is_idempotent_on_real_text():
    once = normalize_text(LEAD + "\n\n" + ENGLISH)
    assert normalize_text(once) == once


def test_normalize_empty():
    assert normalize_text("") == ""
    assert normalize_text(" \u200b \n ") == ""


# --------------------------------------------------------------------------- tokenize_for_index


def test_tokens_are_thai_words_and_lowercase_latin():
    toks = tokenize_for_index("รองนายกฯ ประจินฯ เป็นประธานเปิดงานสัมมนา “eGovernment Forum 2018”")
    assert "egovernment" in toks and "forum" in toks and "2018" in toks
    assert "ประธาน" in toks or "เป็นประธาน" in toks
    assert all(t == t.lower() for t in toks)
    assert not any(re.fullmatch(r"[\W_]+", t) for t in toks)  # no punctuation-only tokens
    assert "ฯ" not in toks and "“" not in toks


def test_numbers_are_kept_and_thousands_separators_dropped():
    toks = tokenize_for_index("เข้าร่วมประชุมกว่า ๑,๒๐๐ คน ค่าฝุ่น PM 2.5 เวลา 09.00 น.")
    assert "1200" in toks
    assert "2.5" in toks
    assert "09.00" in toks


def test_mixed_script_tokens_split_at_script_changes():
    assert tokenize_for_index("COVID-19") == ["covid", "19"]
    assert tokenize_for_index("PM2.5") == tokenize_for_index("pm 2.5")


def test_query_and_document_get_the_same_tokens():
    doc = tokenize_for_index(LEAD)
    query = tokenize_for_index("สมาคมอุตสาหกรรมเทคโนโลยีสารสนเทศไทย")
    assert query and all(t in doc for t in query)


def test_tokenize_is_deterministic_and_ignores_layout():
    a = tokenize_for_index(LEAD)
    b = tokenize_for_index(LEAD.replace(" ", "\n   "))
    assert a == tokenize_for_index(LEAD) == b


def test_tokenize_empty_and_punctuation_only():
    assert tokenize_for_index("") == []
    assert tokenize_for_index(" ***** ----- ๆ ") == []


# --------------------------------------------------------------------------- split_sentences


def test_split_never_loses_text_thai():
    parts = split_sentences(LEAD)
    assert len(parts) > 1
    assert _nonspace("".join(parts)) == _nonspace(LEAD)
    assert all(p == p.strip() and p for p in parts)


def test_split_never_loses_text_english():
    parts = split_sentences(ENGLISH)
    assert _nonspace("".join(parts)) == _nonspace(ENGLISH)
    assert parts[-1] == "Foreign investors lost their confidence over Thailand’s stability."
    # "Gen. Prayut" is an abbreviation, not a sentence end
    assert not any(p.endswith("Gen.") for p in parts)


def test_paragraph_breaks_always_split():
    parts = split_sentences("รองนายกฯ ประจินฯ\nพลอากาศเอก ประจิน จั่นตอง รองนายกรัฐมนตรี")
    assert parts == ["รองนายกฯ ประจินฯ", "พลอากาศเอก ประจิน จั่นตอง รองนายกรัฐมนตรี"]


def test_no_split_after_titles_or_inside_short_clauses():
    parts = split_sentences(LEAD, min_chars=1)
    assert len(parts) > 5
    # "พลอากาศเอก" is a rank: the name after it stays in the same piece
    assert not any(p.split()[-1] in ("พลอากาศเอก", "นาย", "นางสาว") for p in parts)
    assert any(p.startswith("พลอากาศเอก ประจิน") for p in parts)
    assert not any(p.startswith("ๆ") for p in split_sentences("ในการไปพบปะกับหลาย ๆ หน่วยงาน " * 5))


def test_pieces_respect_min_chars_except_the_last():
    parts = split_sentences(LEAD, min_chars=60)
    assert all(len(p) >= 60 for p in parts[:-1])


def test_split_empty():
    assert split_sentences("") == []
    assert split_sentences("\n \n") == []
