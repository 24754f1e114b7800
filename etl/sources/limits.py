"""What PostgreSQL would refuse, caught per row while parsing, so that no value can abort a load.

Every record the normaliser builds passes through `enforce_limits`: a value the database (or one of
the indexes of `papers`) would refuse becomes a reject naming the field, instead of an error that
rolls the whole load back. What is checked, and why:

- control characters: NUL (COPY refuses 0x00) and the other C0 controls and DEL are *stripped* from
  every text (they are never meaningful in metadata); a title or abstract left empty is rejected.
- invalid UTF-8: text holding lone surrogates (a JSON escape such as "\\ud800") cannot be encoded.
- integers: revision, arxiv_year and arxiv_number must fit PostgreSQL's `integer`.
- dates: published and updated must lie in 1900-2200 (arXiv began in 1991; anything else is a
  parsing accident, and far-off years are outside what the date filters and maps expect).
- full-text index: title, authors and abstract together must hold at most MAX_INDEXED_TEXT_BYTES.
  A tsvector holds at most 1 MB of distinct words, and lower-casing may lengthen text by half, so
  longer texts are rejected (no real abstract comes near: arXiv caps them at 1,920 characters).
- index keys: an author name of more than MAX_AUTHOR_CHARS characters, a category code of more than
  MAX_CATEGORY_CHARS (B-tree and GIN keys have a size limit of about 2.7 kB).
- numbers: map coordinates must be finite float4 values; vectors must hold no NaN or infinity.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from app.core.records import PaperRecord

INT4_MAX = 2_147_483_647
FLOAT4_MAX = 3.4028234663852886e38
MAX_INDEXED_TEXT_BYTES = 500_000
MAX_AUTHOR_CHARS = 300
MAX_CATEGORY_CHARS = 40
EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_DATE = datetime(2200, 1, 1, tzinfo=UTC)

_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TEXT_FIELDS = ("title", "abstract", "journal_ref", "doi", "arxiv_comment", "arxiv_doi", "submitter",
                "report_no", "license", "acm_class", "msc_class")


@dataclass(frozen=True, slots=True)
class Violation:
    """One value of a record the database would refuse: the record field, the value and why."""

    field: str
    value: Any
    reason: str


def strip_controls(text: str) -> str:
    """`text` without control characters (tab, newline and carriage return are kept)."""
    if text.isprintable() or _CONTROL_RE.search(text) is None:
        return text
    return " ".join(_CONTROL_RE.sub("", text).split())


def _bad_text(field: str, text: str) -> Violation:
    return Violation(field, text.encode("utf-8", "replace").decode("utf-8"),
                     "not valid UTF-8 (holds a lone surrogate, e.g. from a \\ud800 escape)")


def _strip_record_controls(record: PaperRecord) -> Violation | None:
    for name in _TEXT_FIELDS:
        value = getattr(record, name)
        if value is not None:
            cleaned = strip_controls(value)
            if not cleaned and name in ("title", "abstract"):
                return Violation(name, value, f"empty {name} once its control characters are stripped")
            setattr(record, name, cleaned or None)
    record.authors = [a for a in map(strip_controls, record.authors) if a]
    return None


def _first_unencodable(record: PaperRecord) -> Violation:
    for name in _TEXT_FIELDS:
        value = getattr(record, name)
        if value is not None and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return _bad_text(name, value)
    return _bad_text("authors", "; ".join(record.authors))


def enforce_limits(record: PaperRecord) -> Violation | None:
    """Strip control characters from `record` in place; the first value the database would refuse, if any.

    Runs for every row of every load: the texts are checked joined, in C, and field by field only when
    something is found.
    """
    r = record
    texts = [t for t in (r.title, r.abstract, r.journal_ref, r.doi, r.arxiv_comment, r.arxiv_doi, r.submitter,
                         r.report_no, r.license, r.acm_class, r.msc_class) if t is not None]
    joined = " ".join(texts + r.authors)  # the texts are collapsed: printable unless something is odd
    if not joined.isprintable() and _CONTROL_RE.search(joined) is not None:
        violation = _strip_record_controls(r)
        if violation is not None:
            return violation
        texts = [t for t in (r.title, r.abstract, r.journal_ref, r.doi, r.arxiv_comment, r.arxiv_doi, r.submitter,
                             r.report_no, r.license, r.acm_class, r.msc_class) if t is not None]
        joined = " ".join(texts + r.authors)
    authors = r.authors
    if joined.isascii():
        title_bytes, abstract_bytes, author_bytes = len(r.title), len(r.abstract), sum(map(len, authors))
    else:
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            return _first_unencodable(r)
        title_bytes, abstract_bytes = len(r.title.encode()), len(r.abstract.encode())
        author_bytes = sum(len(a.encode()) for a in authors)
    if authors and max(map(len, authors)) > MAX_AUTHOR_CHARS:
        longest = max(authors, key=len)
        return Violation("authors", longest, f"an author name of {len(longest)} characters; at most "
                         f"{MAX_AUTHOR_CHARS} fit the author index")
    if r.categories and max(map(len, r.categories)) > MAX_CATEGORY_CHARS:
        longest = max(r.categories, key=len)
        return Violation("categories", longest, f"a category code of {len(longest)} characters; "
                         f"arXiv codes have at most {MAX_CATEGORY_CHARS}")
    indexed = title_bytes + abstract_bytes + author_bytes
    if indexed > MAX_INDEXED_TEXT_BYTES:
        field = "abstract" if abstract_bytes >= title_bytes else "title"
        return Violation(field, getattr(r, field),
                         f"title, authors and abstract hold {indexed:,} bytes; the full-text index takes at "
                         f"most {MAX_INDEXED_TEXT_BYTES:,} (a tsvector holds at most 1 MB)")
    for name in ("revision", "arxiv_year", "arxiv_number"):
        number = getattr(record, name)
        if number is not None and not -INT4_MAX - 1 <= number <= INT4_MAX:
            return Violation(name, number, f"{number} does not fit an integer column (at most {INT4_MAX:,})")
    for name in ("published", "updated"):
        moment = getattr(record, name)
        if moment is not None and not EARLIEST_DATE <= moment < LATEST_DATE:
            return Violation(name, moment.isoformat(), "date out of range (1900-2200)")
    for name in ("umap_x", "umap_y"):
        number = getattr(record, name)
        if number is not None and not (math.isfinite(number) and abs(number) <= FLOAT4_MAX):
            return Violation(name, number, "not a finite 4-byte float")
    if record.embedding is not None:
        problem = vector_violation(record.embedding)
        if problem is not None:
            return Violation("embedding", problem[0], problem[1])
    return None


def vector_violation(vector: np.ndarray) -> tuple[str, str] | None:
    """(value, reason) when `vector` holds NaN or infinity, else None."""
    finite = np.isfinite(np.asarray(vector, dtype=np.float64))
    if finite.all():
        return None
    position = int(np.flatnonzero(~finite)[0])
    return f"[{position}] = {float(vector[position])}", "the vector holds NaN or infinity"


def finite_rows(vectors: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Boolean mask of the rows of (n, d) `vectors` that hold only finite numbers (memmaps read in chunks)."""
    mask = np.empty(vectors.shape[0], dtype=bool)
    for start in range(0, vectors.shape[0], chunk):
        mask[start:start + chunk] = np.isfinite(np.asarray(vectors[start:start + chunk])).all(axis=1)
    return mask
