"""arXiv id parsing and the repair of ids that spreadsheets stored as numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.arxiv_ids import ParsedId, looks_numeric, parse_arxiv_id, repair_float_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2303.08774", ParsedId("2303.08774", None, 2303, 8774)),
        ("2303.08774v6", ParsedId("2303.08774", 6, 2303, 8774)),
        ("arXiv:2303.08774", ParsedId("2303.08774", None, 2303, 8774)),
        ("arxiv:2303.08774v12", ParsedId("2303.08774", 12, 2303, 8774)),
        ("  0704.0001 ", ParsedId("0704.0001", None, 704, 1)),
        ("1412.9999", ParsedId("1412.9999", None, 1412, 9999)),
        ("1501.00001", ParsedId("1501.00001", None, 1501, 1)),
        ("hep-th/9901001v2", ParsedId("hep-th/9901001", 2, 9901, 1)),
        ("hep-th/9901001", ParsedId("hep-th/9901001", None, 9901, 1)),
        ("math.GT/0309136", ParsedId("math.GT/0309136", None, 309, 136)),
        ("math/0501001", ParsedId("math/0501001", None, 501, 1)),
        ("cond-mat/0703999v3", ParsedId("cond-mat/0703999", 3, 703, 999)),
        ("arXiv:q-bio/0405001", ParsedId("q-bio/0405001", None, 405, 1)),
    ],
)
def test_parse_valid_ids(raw: str, expected: ParsedId) -> None:
    assert parse_arxiv_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("704.0001", "not an arXiv id"),  # lost leading zero: only repair_float_id may fix it
        ("0704.001", "not an arXiv id"),
        ("0704.00001", "4-digit number"),  # 5 digits before 1501
        ("1501.0001", "5-digit number"),  # 4 digits from 1501 on
        ("0713.0001", "month 13"),
        ("0700.0001", "month 00"),
        ("0612.0001", "start at 0704"),
        ("0704.0000", "number 0"),
        ("2303.08774v0", "versions start at v1"),
        ("HEP-TH/9901001", "lower case"),
        ("hep-th/9913001", "month 13"),
        ("hep-th/8901001", "1991 to 2007"),
        ("hep-th/990100", "old-style"),
        ("hep th/9901001", "old-style"),
        ("2303.08774.1", "not an arXiv id"),
        ("hello", "not an arXiv id"),
        ("２３０３.０８７７４", "not an arXiv id"),  # full-width digits are not ASCII digits
    ],
)
def test_parse_invalid_ids(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_arxiv_id(raw)


def test_parse_rejects_non_text() -> None:
    with pytest.raises(ValueError, match="text"):
        parse_arxiv_id(704.0001)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "published", "expected"),
    [
        ("704.0001", date(2007, 4, 2), "0704.0001"),  # leading zero of YYMM lost
        ("704.001", date(2007, 4, 2), "0704.0010"),  # and a trailing zero of the number
        ("712.09", date(2007, 12, 5), "0712.0900"),
        ("1412.1", date(2014, 12, 1), "1412.1000"),
        ("1501.0001", date(2015, 1, 5), "1501.00010"),  # 5-digit numbers from 1501
        ("1501.1", date(2015, 1, 5), "1501.10000"),
        ("1501.0001", date(2014, 12, 31), "1501.00010"),  # submitted at the end of the month before
        ("801.2295", date(2007, 12, 31), "0801.2295"),  # ... across a year boundary
        ("0704.001", date(2007, 4, 30), "0704.0010"),  # leading zero kept, trailing lost
        ("810.0142", datetime(2008, 10, 1, 12, tzinfo=UTC), "0810.0142"),  # datetime is a date
    ],
)
def test_repair_float_id(raw: str, published: date, expected: str) -> None:
    assert repair_float_id(raw, published) == expected
    assert parse_arxiv_id(expected).arxiv_id == expected


@pytest.mark.parametrize(
    ("raw", "published", "reason"),
    [
        ("704.001", None, "no v1 date"),
        ("704.001", date(2007, 6, 1), "date mismatch"),  # two months off
        ("704.001", date(2007, 5, 1), "date mismatch"),  # the month after the id cannot be
        ("704.001", date(2008, 4, 1), "date mismatch"),  # right month, wrong year
        ("704.00001", date(2007, 4, 1), "too many digits"),  # 5 digits before 1501
        ("1501.123456", date(2015, 1, 1), "too many digits"),
        ("12345.1", date(2015, 1, 1), "too many digits"),
        ("713.1", date(2007, 12, 1), "not a valid new-style year-month"),
        ("612.1", date(2006, 12, 1), "not a valid new-style year-month"),
        ("hep-th/9901001", date(1999, 1, 1), "not a number-mangled"),
        ("704", date(2007, 4, 1), "not a number-mangled"),
    ],
)
def test_repair_refuses_what_it_cannot_prove(raw: str, published: date | None, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        repair_float_id(raw, published)


def test_looks_numeric() -> None:
    assert looks_numeric("704.001")
    assert looks_numeric(" 1501.0001 ")
    assert not looks_numeric("hep-th/9901001")
    assert not looks_numeric("704")
    assert not looks_numeric("1e3.5")


@st.composite
def new_style_ids(draw: st.DrawFn) -> tuple[str, date]:
    """A valid new-style id and a v1 date that confirms it (same month or the month before)."""
    yy = draw(st.integers(7, 30))
    mm = draw(st.integers(4 if yy == 7 else 1, 12))
    yymm = yy * 100 + mm
    width = 4 if yymm <= 1412 else 5
    number = draw(st.integers(1, 10**width - 1))
    arxiv_id = f"{yymm:04d}.{number:0{width}d}"
    before = draw(st.booleans())
    year, month = 2000 + yy, mm
    if before:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    day = draw(st.integers(1, 28))
    return arxiv_id, date(year, month, day)


@given(new_style_ids())
@settings(max_examples=300, deadline=None)
def test_every_float_mangled_id_comes_back(case: tuple[str, date]) -> None:
    arxiv_id, published = case
    mangled = str(float(arxiv_id))  # what a spreadsheet keeps of it
    assert parse_arxiv_id(arxiv_id).arxiv_id == arxiv_id
    assert repair_float_id(mangled, published) == arxiv_id


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_parse_never_raises_anything_but_value_error(raw: str) -> None:
    try:
        parsed = parse_arxiv_id(raw)
    except ValueError:
        return
    assert parse_arxiv_id(parsed.arxiv_id).arxiv_id == parsed.arxiv_id
