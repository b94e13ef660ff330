"""Passages: token budget (title prefix included), sentence boundaries, no text lost.

``count_tokens`` here is a real, deterministic counter (newmm words + one per other character
run), passed in the way the embedding model's tokenizer is passed in production.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pythainlp.tokenize import word_tokenize

from thaigov_search.core.article import Article
from thaigov_search.core.thai_text import split_sentences
from thaigov_search.indexing.chunking import chunk_article
from thaigov_search.indexing.parsing import parse_thaigov_text

FIXTURE = Path(__file__).parent / "fixtures" / "thaigov-sample.jsonl"


def count_words(text: str) -> int:
    """Number of newmm words (whitespace excluded): a stand-in for a subword tokenizer."""
    return len(word_tokenize(text, engine="newmm", keep_whitespace=False)) if text else 0


def count_with_specials(text: str) -> int:
    """Like a HF tokenizer with <s> ... </s>: two extra tokens on every call, even for ''."""
    return count_words(text) + 2


class CountingCounter:
    """``count_words`` that also counts how often the chunker called it."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        return count_words(text)


def _nonspace(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.fixture(scope="module")
def articles() -> dict[str, Article]:
    out = {}
    with open(FIXTURE, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            try:
                out[d["id"]] = parse_thaigov_text(d["id"], d["text"], d["url"])
            except ValueError:
                pass
    return out


def test_passages_fit_budget_including_title(articles):
    a = articles["tg012535"]
    passages = chunk_article(a, count_words, max_tokens=64)
    assert len(passages) > 2
    for p in passages:
        assert p.n_tokens == count_words(p.embed_text)
        assert p.n_tokens <= 64
        assert p.embed_text == f"{a.title}\n{p.text}"
        assert p.article_id == "tg012535"
    assert [p.position for p in passages] == list(range(len(passages)))


def test_no_text_lost_across_fixture(articles):
    for a in articles.values():
        passages = chunk_article(a, count_words, max_tokens=96)
        assert _nonspace("".join(p.text for p in passages)) == _nonspace(a.body or a.title), a.id


def test_budget_respected_with_special_tokens(articles):
    for a in list(articles.values())[:15]:
        for p in chunk_article(a, count_with_specials, max_tokens=80):
            assert p.n_tokens <= 80, a.id


def test_passages_end_at_sentence_boundaries(articles):
    a = articles["tg012535"]
    sentences_end = {s[-12:] for s in split_sentences(a.body)}
    passages = chunk_article(a, count_words, max_tokens=64)
    for p in passages[:-1]:
        assert p.text[-12:] in sentences_end


def test_short_article_gives_one_passage(articles):
    a = articles["tg012535"]
    passages = chunk_article(a, count_words, max_tokens=4096)
    assert len(passages) == 1
    assert passages[0].text == a.body


def test_title_only_article_gives_title_passage():
    a = Article(id="t1", title="สรุปข่าวการประชุมคณะรัฐมนตรี 17 สิงหาคม 2559", body="")
    passages = chunk_article(a, count_words, max_tokens=256)
    assert len(passages) == 1
    assert passages[0].text == a.title
    assert passages[0].embed_text == a.title
    assert passages[0].n_tokens == count_words(a.title)


def test_empty_article_gives_no_passage():
    assert chunk_article(Article(id="e", title="", body=""), count_words) == []


def test_long_sentence_is_split_at_word_boundaries():
    # one 1,000+ character Thai "sentence" without any space (real clause, repeated)
    clause = "รัฐบาลเร่งช่วยเหลือเกษตรกรผู้ได้รับผลกระทบจากภัยแล้งอย่างต่อเนื่อง"
    body = clause * 20
    a = Article(id="long", title="ภัยแล้ง", body=body)
    passages = chunk_article(a, count_words, max_tokens=32)
    assert len(passages) > 3
    assert "".join(p.text for p in passages) == body  # cut inside, nothing lost or added
    words = set(word_tokenize(clause, engine="newmm"))
    for p in passages:
        assert p.n_tokens <= 32
        assert word_tokenize(p.text, engine="newmm")[0] in words  # starts on a word boundary


def test_max_passages_keeps_the_lead(articles):
    a = articles["tg012535"]
    all_p = chunk_article(a, count_words, max_tokens=48)
    lead = chunk_article(a, count_words, max_tokens=48, max_passages=2)
    assert len(all_p) > 2
    assert lead == all_p[:2]


def test_exact_passages_sizes_only_the_embedded_lead_and_keeps_all_text(articles):
    """Only the lead is embedded, so only it is tokenised; the rest is cut by estimate, text intact."""
    a = articles["tg012535"]
    counting = CountingCounter()
    exact = chunk_article(a, count_words, max_tokens=48)
    lead_sized = chunk_article(a, counting, max_tokens=48, exact_passages=2)
    assert lead_sized[:2] == exact[:2]
    assert _nonspace("".join(p.text for p in lead_sized)) == _nonspace(a.body)
    assert counting.calls < len(split_sentences(a.body)) // 2  # the tail was never tokenised


def test_overlong_title_is_shortened_in_context():
    title = "ครม.รับทราบการเป็นเจ้าภาพจัดการแข่งขันกีฬาเอเชียนอินดอร์และมาเชี่ยลอาร์ทเกมส์ " * 6
    a = Article(id="tt", title=title.strip(), body="นายคารม พลพรกลาง รองโฆษกประจำสำนักนายกรัฐมนตรี เปิดเผยว่า")
    passages = chunk_article(a, count_words, max_tokens=40)
    assert passages and all(p.n_tokens <= 40 for p in passages)
    assert passages[0].embed_text.endswith(a.body)


def test_counts_each_sentence_about_once(articles):
    a = articles["tg012535"]
    counting = CountingCounter()
    n_sent = len(split_sentences(a.body))
    passages = chunk_article(a, counting, max_tokens=64)
    # sentences once, title once, empty string once, each passage once (+ rare re-splits)
    assert counting.calls <= n_sent + len(passages) + 4


def test_english_release_chunks(articles):
    en = [a for a in articles.values() if a.language == "en"]
    assert en
    for a in en:
        for p in chunk_article(a, count_words, max_tokens=64):
            assert p.n_tokens <= 64
