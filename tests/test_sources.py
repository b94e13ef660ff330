"""Reading inputs: JSONL (plain/.xz/.gz), directories of raw .txt files, bad lines."""

from __future__ import annotations

import gzip
import json
import logging
import lzma
from pathlib import Path

import pytest

from thaigov_search.indexing.parsing import EmptyArticleError, parse_record
from thaigov_search.indexing.sources import MAX_STORED_WARNINGS, ReadStats, iter_records

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "thaigov-sample.jsonl"


@pytest.fixture(scope="module")
def sample_lines() -> list[str]:
    return [ln for ln in SAMPLE.read_text(encoding="utf-8").splitlines() if ln.strip()]


def test_reads_shared_format_jsonl(sample_lines):
    stats = ReadStats()
    recs = list(iter_records([SAMPLE], stats))
    assert len(recs) == len(sample_lines) == stats.read
    assert stats.skipped == 0 and stats.warnings == []
    egov = next(r for r in recs if r.id == "tg012535")
    assert egov.text is not None and egov.text.startswith("รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-")
    assert egov.url == "http://www.thaigov.go.th/news/contents/details/15018"
    assert egov.fields is None
    assert egov.origin.startswith("thaigov-sample.jsonl:")


@pytest.mark.parametrize("opener,suffix", [(lzma.open, ".jsonl.xz"), (gzip.open, ".jsonl.gz")])
def test_reads_compressed_jsonl(tmp_path, sample_lines, opener, suffix):
    path = tmp_path / f"sample{suffix}"
    with opener(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(sample_lines[:5]) + "\n")
    recs = list(iter_records([path], ReadStats()))
    assert [r.id for r in recs] == [json.loads(ln)["id"] for ln in sample_lines[:5]]


def test_reads_demo_fixture_gz():
    stats = ReadStats()
    ids = [r.id for r in iter_records([FIXTURES / "demo-sample.jsonl.gz"], stats)]
    assert "tg012535" in ids and len(ids) == len(set(ids)) >= 250
    assert stats.skipped == 0


def test_bad_lines_are_skipped_counted_and_logged(tmp_path, sample_lines, caplog):
    good = sample_lines[:3]
    path = tmp_path / "mixed.jsonl"
    with open(path, "wb") as f:
        f.write(good[0].encode() + b"\n")
        f.write(b"{not json\n")  # line 2
        f.write('{"id": "tg-bad", "text": "ข่าว'.encode() + b"\xff\xfe" + b'"}\n')  # line 3: bad UTF-8
        f.write(b"\n")  # blank: ignored
        f.write(good[1].encode() + b"\n")
        f.write(b'["an", "array"]\n')  # line 6
        f.write('{"text": "รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-ไม่มี id"}\n'.encode())  # line 7
        f.write(b'{"id": "x", "source": "no text"}\n')  # line 8
        f.write(good[2].encode())  # last line without newline
    stats = ReadStats()
    with caplog.at_level(logging.WARNING, logger="thaigov_search.indexing.sources"):
        recs = list(iter_records([path], stats))
    assert [r.id for r in recs] == [json.loads(g)["id"] for g in good]
    assert stats.read == 3 and stats.skipped == 5
    assert len(stats.warnings) == 5
    joined = "\n".join(stats.warnings)
    for where, reason in [
        ("2", "not JSON"),
        ("3", "bad UTF-8"),
        ("6", "not a JSON object"),
        ("7", "missing id"),
        ("8", "neither"),
    ]:
        assert f"mixed.jsonl:{where}: skipped: {reason}" in joined
    assert "mixed.jsonl:3" in caplog.text


def test_generic_jsonl_records(tmp_path):
    path = tmp_path / "generic.jsonl"
    rows = [
        {
            "id": "g1",
            "title": "งานสัมมนารัฐบาลดิจิทัล",
            "body": "เนื้อหา",
            "date": "2018-08-29",
            "category": "ไอที",
            "url": "u",
        },
        {"id": 7, "title": "ไม่มีเนื้อหา"},
        {"id": "g3", "body": "มีแต่เนื้อหา", "date": None},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    recs = list(iter_records([path], ReadStats()))
    assert [r.id for r in recs] == ["g1", "7", "g3"]
    assert recs[0].text is None and recs[0].fields["title"] == "งานสัมมนารัฐบาลดิจิทัล"
    assert recs[0].fields["date"] == "2018-08-29" and recs[0].url == "u"
    assert recs[2].fields == {"body": "มีแต่เนื้อหา", "date": ""}
    assert parse_record(recs[0]).date == "2018-08-29"


def test_directory_of_raw_txt_files(tmp_path, sample_lines):
    root = tmp_path / "corpus"
    by_id = {d["id"]: d for d in map(json.loads, sample_lines)}
    (root / "2018" / "08").mkdir(parents=True)
    (root / "2018" / "08" / "ด้านสังคม_1.txt").write_text(by_id["tg012535"]["text"], encoding="utf-8")
    (root / "2023").mkdir()
    (root / "2023" / "Government News_1.txt").write_text(by_id["tg057576"]["text"], encoding="utf-8")
    (root / "2023" / "broken.txt").write_bytes("รัฐบาลไทย-".encode() + b"\xff\n")
    (root / "notes.md").write_text("not a release", encoding="utf-8")
    stats = ReadStats()
    recs = list(iter_records([root], stats))
    assert sorted(r.id for r in recs) == ["2018_08_ด้านสังคม_1", "2023_Government News_1"]
    assert stats.skipped == 1 and "broken.txt" in stats.warnings[0]
    egov = parse_record(next(r for r in recs if r.id == "2018_08_ด้านสังคม_1"))
    assert egov.date == "2018-08-29"
    assert egov.url == "http://www.thaigov.go.th/news/contents/details/15018"  # from the ที่มา line


def test_ids_from_directories_are_stable(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.txt").write_text(
        "รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-ข่าว\n\nวันพุธที่ 29 สิงหาคม 2561\nเนื้อหา", encoding="utf-8"
    )
    first = [r.id for r in iter_records([root], ReadStats())]
    second = [r.id for r in iter_records([str(root)], ReadStats())]
    assert first == second == ["a"]


def test_limit_stops_after_n_good_records(tmp_path, sample_lines):
    path = tmp_path / "s.jsonl"
    path.write_text("oops\n" + "\n".join(sample_lines) + "\n", encoding="utf-8")
    stats = ReadStats()
    recs = list(iter_records([path, SAMPLE], stats, limit=4))
    assert len(recs) == 4 and stats.read == 4 and stats.skipped == 1


def test_missing_path_raises_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such.jsonl"):
        iter_records([tmp_path / "no-such.jsonl"], ReadStats())


def test_unsupported_file_type_raises(tmp_path):
    p = tmp_path / "data.csv"
    p.write_text("id,title\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unsupported"):
        iter_records([p], ReadStats())


def test_empty_articles_pass_reading_and_fail_parsing():
    stats = ReadStats()
    empties = [r for r in iter_records([SAMPLE], stats) if r.id in {"tg029956", "tg057482", "tg031773"}]
    assert len(empties) == 3 and stats.skipped == 0
    for rec in empties:
        with pytest.raises(EmptyArticleError):
            parse_record(rec)


def test_warnings_are_capped_but_counted(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("x\n" * (MAX_STORED_WARNINGS + 50), encoding="utf-8")
    stats = ReadStats()
    logging.getLogger("thaigov_search.indexing.sources").disabled = True
    try:
        assert list(iter_records([path], stats)) == []
    finally:
        logging.getLogger("thaigov_search.indexing.sources").disabled = False
    assert stats.skipped == MAX_STORED_WARNINGS + 50
    assert len(stats.warnings) == MAX_STORED_WARNINGS
    assert stats.n_warnings == MAX_STORED_WARNINGS + 50


def test_truncated_xz_keeps_the_records_before_the_damage(tmp_path, sample_lines):
    data = lzma.compress(("\n".join(sample_lines) + "\n").encode("utf-8"))
    path = tmp_path / "cut.jsonl.xz"
    path.write_bytes(data[: len(data) // 2])
    stats = ReadStats()
    recs = list(iter_records([path], stats))
    assert 0 < len(recs) < len(sample_lines)
    assert [r.id for r in recs] == [json.loads(ln)["id"] for ln in sample_lines[: len(recs)]]
    assert stats.skipped == 1 and "truncated" in stats.warnings[0]
