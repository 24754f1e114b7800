"""arXiv identifiers: parse and validate them, and repair ids that spreadsheets turned into numbers."""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

# New style (April 2007 on): YYMM.NNNN up to 1412, YYMM.NNNNN from 1501; optional "vN".
_NEW_RE = re.compile(r"(?:arxiv:)?(\d{4})\.(\d{4,5})(?:v(\d+))?", re.IGNORECASE | re.ASCII)
# Old style (1991 to March 2007): archive[.SC]/YYMMNNN; the subject class is kept in the id.
_OLD_RE = re.compile(
    r"(?:arxiv:)?([a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?)/(\d{2})(\d{2})(\d{3})(?:v(\d+))?",
    re.IGNORECASE | re.ASCII,
)
_ARCHIVE_RE = re.compile(r"[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?")
_NUMERIC_RE = re.compile(r"\d+\.\d+", re.ASCII)
_FLOAT_RE = re.compile(r"(\d{1,4})\.(\d{1,5})", re.ASCII)

LAST_4_DIGIT_YYMM = 1412  # from 1501 on, new-style numbers have 5 digits
FIRST_NEW_STYLE_YYMM = 704


# "0704" -> (704, 9): every valid new-style YYMM with the length of its ids (9 or 10 characters).
_NEW_STYLE_YYMM = {
    f"{yy:02d}{mm:02d}": (yy * 100 + mm, 9 if yy * 100 + mm <= LAST_4_DIGIT_YYMM else 10)
    for yy in range(7, 100) for mm in range(1, 13) if yy * 100 + mm >= FIRST_NEW_STYLE_YYMM
}


class ParsedId(NamedTuple):
    """A validated arXiv id without its version, plus the parts the `papers` table keeps."""

    arxiv_id: str
    revision: int | None
    arxiv_year: int
    arxiv_number: int


_new_parsed_id = tuple.__new__  # ParsedId(...) without its Python-level __new__ (hot path)


def _revision(raw_version: str | None) -> int | None:
    if raw_version is None:
        return None
    revision = int(raw_version)
    if revision < 1:
        raise ValueError(f"version v{raw_version} does not exist (versions start at v1)")
    return revision


def parse_arxiv_id(raw: str) -> ParsedId:
    """Parse `raw` ("2303.08774v6", "arXiv:hep-th/9901001", ...); ValueError says why it is not an id."""
    if not isinstance(raw, str):
        raise ValueError(f"an arXiv id is text, not {type(raw).__name__}")
    new_style = _NEW_STYLE_YYMM.get(raw[:4])  # fast path: a plain new-style id
    if new_style is not None and len(raw) == new_style[1] and raw[4] == "." and raw.isascii() and (
        raw[5:].isdigit()
    ):
        number = int(raw[5:])
        if number:
            return _new_parsed_id(ParsedId, (raw, None, new_style[0], number))
    text = raw.strip()
    if not text:
        raise ValueError("empty arXiv id")
    m = _NEW_RE.fullmatch(text)
    if m is not None:
        yymm_s, number_s, version = m.groups()
        yymm, month = int(yymm_s), int(yymm_s[2:])
        if not 1 <= month <= 12:
            raise ValueError(f"month {yymm_s[2:]} of YYMM {yymm_s} is not 01-12")
        if yymm < FIRST_NEW_STYLE_YYMM:
            raise ValueError(f"new-style ids start at 0704 (April 2007), not {yymm_s}")
        width = 4 if yymm <= LAST_4_DIGIT_YYMM else 5
        if len(number_s) != width:
            raise ValueError(
                f"ids of {yymm_s} have a {width}-digit number, not {len(number_s)} digits ({number_s})"
            )
        number = int(number_s)
        if number == 0:
            raise ValueError("paper number 0 does not exist")
        return ParsedId(f"{yymm_s}.{number_s}", _revision(version), yymm, number)
    m = _OLD_RE.fullmatch(text)
    if m is not None:
        archive, yy_s, mm_s, serial_s, version = m.groups()
        if not _ARCHIVE_RE.fullmatch(archive):
            raise ValueError(f"archive {archive!r} of an old-style id must be lower case")
        yy, month = int(yy_s), int(mm_s)
        if not 1 <= month <= 12:
            raise ValueError(f"month {mm_s} of old-style id is not 01-12")
        if not (yy >= 91 or yy <= 7):
            raise ValueError(f"old-style ids run from 1991 to 2007, not 19/20{yy_s}")
        serial = int(serial_s)
        if serial == 0:
            raise ValueError("paper number 000 does not exist")
        return ParsedId(f"{archive}/{yy_s}{mm_s}{serial_s}", _revision(version), int(yy_s + mm_s), serial)
    if "/" in text:
        raise ValueError("not an old-style arXiv id (archive/YYMMNNN)")
    raise ValueError("not an arXiv id (YYMM.NNNN, YYMM.NNNNN or archive/YYMMNNN)")


def looks_numeric(raw: str) -> bool:
    """True for text like "704.001": digits, one dot, digits (what a float-mangled id looks like)."""
    return _NUMERIC_RE.fullmatch(raw.strip()) is not None


def repair_float_id(raw: str, published: date | None) -> str:
    """Restore an id a spreadsheet stored as a number ("704.001" -> "0704.0010").

    The zero-padding is only accepted when the paper's v1 date confirms it: the date's year-month is
    the id's YYMM or the month before (submissions at a month's end get the next month's id).
    ValueError says why the repair cannot be proven.
    """
    text = raw.strip()
    m = _FLOAT_RE.fullmatch(text)
    if m is None:
        if looks_numeric(text):
            raise ValueError(f"{text!r} has too many digits for a new-style id mangled into a number")
        raise ValueError(f"{text!r} is not a number-mangled new-style id")
    yymm_s, number_s = m.group(1).zfill(4), m.group(2)
    yymm, month = int(yymm_s), int(yymm_s[2:])
    if not 1 <= month <= 12 or yymm < FIRST_NEW_STYLE_YYMM:
        raise ValueError(f"{text!r} padded to YYMM {yymm_s} is not a valid new-style year-month")
    width = 4 if yymm <= LAST_4_DIGIT_YYMM else 5
    if len(number_s) > width:
        raise ValueError(f"{text!r}: ids of {yymm_s} have {width}-digit numbers, this one has too many digits")
    repaired = f"{yymm_s}.{number_s.ljust(width, '0')}"
    if published is None:
        raise ValueError(f"{text!r} may be {repaired} mangled into a number, but there is no v1 date to confirm it")
    year, mon = published.year, published.month
    id_year, id_month = 2000 + yymm // 100, month
    prev_year, prev_month = (id_year, id_month - 1) if id_month > 1 else (id_year - 1, 12)
    if (year, mon) not in ((id_year, id_month), (prev_year, prev_month)):
        raise ValueError(
            f"{text!r} may be {repaired} mangled into a number, but the v1 date "
            f"{published:%Y-%m-%d} does not match {yymm_s} (date mismatch)"
        )
    return repaired
