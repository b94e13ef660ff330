"""Years and months in queries (thaigov_search.search.query_dates): recognised forms and the soft date fit."""

from __future__ import annotations

import pytest

from thaigov_search.search.query_dates import DateHint, date_bonus, date_hint


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ครม. อนุมัติ โครงการช่วยเหลือชาวนา ปี 2561", DateHint(2018)),  # Buddhist era
        ("cabinet rice 2018", DateHint(2018)),  # Common era
        ("งบประมาณ ๒๕๖๑", DateHint(2018)),  # Thai digits
        ("ศบค. คลายล็อก พฤษภาคม 2563", DateHint(2020, 5)),  # Thai month name
        ("ประชุม 15 มี.ค. 63", DateHint(2020, 3)),  # abbreviated month, two-digit BE year
        ("ราคายาง ปี 61", DateHint(2018)),
        ("schools reopen May 2022", DateHint(2022, 5)),
        ("Songkran March 2025 holiday", DateHint(2025, 3)),
    ],
)
def test_recognised_dates(query, expected):
    assert date_hint(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "schools may reopen soon",  # "may" the verb
        "ลดราคา 1,990 บาท",  # a price, not a year
        "เป้าการค้า 140,000 ล้านดอลลาร์",
        "ปี 12 ของโครงการ",  # not a two-digit Buddhist-era year
        "ธันวาคม 12 คน",  # a month without a year names no period
        "Thailand 4.0 digital economy",
    ],
)
def test_numbers_that_are_not_dates(query):
    assert date_hint(query) is None


def test_range_is_a_suggested_filter():
    assert DateHint(2018).range() == ("2018-01-01", "2018-12-31")
    assert DateHint(2020, 2).range() == ("2020-02-01", "2020-02-29")
    assert DateHint(2023, 2).range() == ("2023-02-01", "2023-02-28")


def test_bonus_prefers_the_named_period_and_never_excludes():
    assert date_bonus(DateHint(2018), "2018-07-01") == 1.0
    assert date_bonus(DateHint(2018, 7), "2018-07-31") == 1.0
    assert date_bonus(DateHint(2018, 7), "2018-03-01") == 0.5  # right year, other month
    assert date_bonus(DateHint(2018), "2019-01-01") == 0.0  # other year: no bonus, still ranked
    assert date_bonus(DateHint(2018), None) == 0.0
    assert date_bonus(None, "2018-07-01") == 0.0
