"""The one normaliser: a row in any source vocabulary (seed, kaggle, jsonl) -> `PaperRecord` or `Reject`."""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import numpy as np
import pandas as pd

from app.core.arxiv_ids import ParsedId, looks_numeric, parse_arxiv_id, repair_float_id
from app.core.records import PaperRecord, Reject, SourceNotes
from etl.sources.limits import enforce_limits

VOCABULARIES = ("seed", "kaggle", "jsonl")
MAX_VALUE_CHARS = 200

# Columns a file of each vocabulary must have (per row, missing values are rejects, not structure errors),
# and the columns of which it needs at least one (the main category, else the first of the categories).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "seed": ("arxiv_id", "title", "abstract"),
    "kaggle": ("id", "title", "abstract", "categories"),
    "jsonl": ("arxiv_id", "title", "abstract"),
}
CATEGORY_COLUMNS: dict[str, tuple[str, ...]] = {
    "seed": ("main_category", "categories"),
    "kaggle": ("categories",),
    "jsonl": ("primary_category", "categories"),
}


def missing_columns(vocabulary: str, columns: Iterable[str]) -> list[str]:
    """The required columns of `vocabulary` that `columns` lacks ("a|b" when it needs one of a, b)."""
    present = set(columns)
    missing = [name for name in REQUIRED_COLUMNS[vocabulary] if name not in present]
    if not present.intersection(CATEGORY_COLUMNS[vocabulary]):
        missing.append("|".join(CATEGORY_COLUMNS[vocabulary]))
    return missing


# Text that means "no value" (pandas writes "<NA>", "NaN", "NaT" and "None" for missing cells).
_MISSING_TEXT = frozenset({"", "<NA>", "NaN", "nan", "NaT", "None"})
_CATEGORY_RE = re.compile(r"[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?")
_YMD_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_RFC2822_RE = re.compile(
    r"(?:[A-Za-z]{3},\s*)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC|UT|\+0000)",
    re.ASCII,
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
)}
_LIST_SPLIT_RE = re.compile(r"\s*;\s*")
_CATEGORY_SPLIT_RE = re.compile(r"[\s;,]+")
_AUTHOR_SPLIT_RE = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
_PARENS_RE = re.compile(r"\([^()]*\)")
_VERSION_RE = re.compile(r"[vV]?(\d+)", re.ASCII)

_date_cache: dict[str, datetime] = {}
_good_categories: set[str] = set()
_CACHE_LIMIT = 200_000


class FieldError(Exception):
    """A bad value in one field of one row; becomes a `Reject`."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


# --------------------------------------------------------------------------- scalar converters


def truncate(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """`value` as text of at most ~`limit` characters, for reject reports."""
    if value is None:
        text = ""
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def is_missing(value: Any) -> bool:
    """None, NaN, NaT, pd.NA, or text that means "no value" ("", "<NA>", "NaN", ...)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in _MISSING_TEXT
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return value is pd.NA or value is pd.NaT or (isinstance(value, np.datetime64) and np.isnat(value))


def collapse(text: str) -> str:
    """Strip and collapse every whitespace run to one space (cheap when there is nothing to do)."""
    if len(text) < 48:
        return " ".join(text.split())
    if (
        "\n" not in text and "\t" not in text and "\r" not in text and "  " not in text
        and text.isascii() and "\x0b" not in text and "\x0c" not in text
        and text[:1] != " " and text[-1:] != " "
    ):
        return text
    return " ".join(text.split())


def clean_text(value: Any) -> str | None:
    """Collapsed text, or None for a missing/empty value; ValueError for a value that is not text."""
    if isinstance(value, str):
        text = collapse(value)
        return None if text in _MISSING_TEXT else text
    if is_missing(value):
        return None
    raise ValueError(f"expected text, got {type(value).__name__}")


def to_datetime(value: Any) -> datetime | None:
    """A timezone-aware datetime (UTC when the source has no zone), None when missing; else ValueError."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        cached = _date_cache.get(text)
        if cached is not None:
            return cached
        if text in _MISSING_TEXT:
            return None
        parsed = _parse_date_text(text)
        if len(_date_cache) >= _CACHE_LIMIT:
            _date_cache.clear()
        _date_cache[text] = parsed
        return parsed
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime(warn=False)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else to_datetime(pd.Timestamp(value))
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    raise ValueError(f"expected a date, got {type(value).__name__}")


def _parse_date_text(text: str) -> datetime:
    m = _YMD_RE.fullmatch(text)
    if m is not None:
        return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
    m = _RFC2822_RE.fullmatch(text)
    if m is not None:
        month = _MONTHS.get(m[2].lower())
        if month is not None:
            return datetime(int(m[3]), month, int(m[1]), int(m[4]), int(m[5]), int(m[6]), tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise ValueError("unparseable date") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def to_int(value: Any) -> int | None:
    """An int from 6, 6.0, "6" or "v6"; None when missing; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | np.integer):
        return int(value)
    if is_missing(value):
        return None
    if isinstance(value, str):
        m = _VERSION_RE.fullmatch(value.strip())
        if m is None:
            raise ValueError("not a whole number")
        return int(m[1])
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    raise ValueError(f"expected a whole number, got {type(value).__name__}")


def to_float(value: Any) -> float | None:
    """A float, None when missing or NaN; ValueError otherwise."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise ValueError(f"expected a number, got {type(value).__name__}")


def to_text_list(value: Any, split: Callable[[str], list[str]]) -> list[str]:
    """Cleaned, non-empty strings from a list, a JSON list text, or text cut by `split`."""
    if isinstance(value, list):
        items: Iterable[Any] = value
    elif isinstance(value, str):
        text = value.strip()
        if text in _MISSING_TEXT:
            return []
        if text[0] == "[":
            items = parse_list_text(text)
            if not isinstance(items, list):
                raise ValueError("expected a JSON list")
        else:
            items = split(text)
    elif isinstance(value, tuple | np.ndarray):
        items = list(value)
    elif is_missing(value):
        return []
    else:
        raise ValueError(f"expected a list, got {type(value).__name__}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"list item is {type(item).__name__}, not text")
        text = collapse(item)
        if text and text not in _MISSING_TEXT:
            out.append(text)
    return out


def parse_list_text(text: str) -> Any:
    """A list written as JSON, or as a Python literal (how pandas writes lists into CSV cells).

    Python literals are read with `ast.literal_eval`, which evaluates literals only, never code.
    ValueError when the text is neither.
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError("neither a JSON list nor a Python literal list") from None
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return list(value)


def split_semicolons(text: str) -> list[str]:
    """"A; B" -> ["A", "B"]."""
    return _LIST_SPLIT_RE.split(text)


def split_categories(text: str) -> list[str]:
    """"math.AG math.NA" (or ";"/","-separated) -> ["math.AG", "math.NA"]."""
    return _CATEGORY_SPLIT_RE.split(text)


def split_author_string(text: str) -> list[str]:
    """Kaggle's "A. Author, B. Other and C. Third" -> names; parenthesised affiliations dropped."""
    if "(" in text:
        previous = None
        while previous != text:
            previous, text = text, _PARENS_RE.sub(" ", text)
    return [name for name in _AUTHOR_SPLIT_RE.split(text.strip()) if name]


def check_category(category: str) -> str:
    """`category` if it is a valid arXiv category code, else ValueError."""
    if category in _good_categories:
        return category
    if _CATEGORY_RE.fullmatch(category) is None:
        raise ValueError("not an arXiv category code (archive or archive.SUBJECT)")
    if len(_good_categories) < _CACHE_LIMIT:
        _good_categories.add(category)
    return category


# --------------------------------------------------------------------------- vocabularies


def vocabulary_of(columns: Iterable[str]) -> str | None:
    """Which vocabulary a set of column names speaks: "seed", "kaggle", "jsonl", or None."""
    cols = set(columns)
    if "arxiv_id" in cols:
        seed_marks = len(cols & {"main_category", "published", "abstract_embedding", "arxiv_comment"})
        jsonl_marks = len(cols & {"primary_category", "created", "comments"})
        return "seed" if seed_marks > jsonl_marks else "jsonl"
    if "id" in cols:
        return "kaggle"
    return None


# Canonical key (PaperRecord field) -> the source's column name, for reject reports.
_SEED_NAMES = {
    "arxiv_id": "arxiv_id", "title": "title", "abstract": "abstract", "main_category": "main_category",
    "categories": "categories", "revision": "revision", "published": "published", "updated": "updated",
    "authors": "authors", "journal_ref": "journal_ref", "doi": "doi", "arxiv_comment": "arxiv_comment",
    "arxiv_doi": "arxiv_DOI", "embedding": "abstract_embedding", "arxiv_year": "arxiv_year",
    "arxiv_number": "arxiv_number", "umap_x": "x_umap", "umap_y": "y_umap",
}
_JSONL_NAMES = {
    "arxiv_id": "arxiv_id", "title": "title", "abstract": "abstract", "main_category": "primary_category",
    "categories": "categories", "published": "created", "updated": "updated", "authors": "authors",
    "doi": "doi", "arxiv_comment": "comments", "acm_class": "acm_class", "journal_ref": "journal_ref",
    "msc_class": "msc_class", "revision": "revision",
}
_KAGGLE_NAMES = {
    "arxiv_id": "id", "title": "title", "abstract": "abstract", "main_category": "categories",
    "categories": "categories", "published": "versions", "updated": "versions", "revision": "versions",
    "authors": "authors", "doi": "doi", "arxiv_comment": "comments", "journal_ref": "journal-ref",
    "report_no": "report-no", "submitter": "submitter", "license": "license", "acm_class": "acm-class",
    "msc_class": "msc-class",
}
_KAGGLE_NAMES_NO_VERSIONS = {**_KAGGLE_NAMES, "updated": "update_date"}
_KAGGLE_NAMES_PARSED = {**_KAGGLE_NAMES, "authors": "authors_parsed"}
_KAGGLE_NAMES_PARSED_NO_VERSIONS = {**_KAGGLE_NAMES_NO_VERSIONS, "authors": "authors_parsed"}


def _rename(row: dict[str, Any], renames: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """`row` with each (source, canonical) key renamed in place; the canonical key always reset."""
    pop = row.pop
    for source, canonical in renames:
        row[canonical] = pop(source, None)
    return row


_SEED_RENAMES = (("arxiv_DOI", "arxiv_doi"), ("abstract_embedding", "embedding"), ("x_umap", "umap_x"),
                 ("y_umap", "umap_y"))
_JSONL_RENAMES = (("primary_category", "main_category"), ("created", "published"),
                  ("comments", "arxiv_comment"), ("abstract_embedding", "embedding"))


def _from_seed(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    return _rename(row, _SEED_RENAMES), _SEED_NAMES


# The jsonl vocabulary also reads what people save from the arXiv API and its JSON shapes: each key
# a source may use -> the canonical key. The first key of a row that maps to a canonical key wins.
JSONL_SYNONYMS = {
    "arxiv_id": "arxiv_id", "id": "arxiv_id", "entry_id": "arxiv_id",
    "title": "title", "abstract": "abstract", "summary": "abstract",
    "authors": "authors", "categories": "categories",
    "primary_category": "main_category", "main_category": "main_category",
    "created": "published", "published": "published", "updated": "updated",
    "comments": "arxiv_comment", "comment": "arxiv_comment", "arxiv_comment": "arxiv_comment",
    "journal_ref": "journal_ref", "journal-ref": "journal_ref", "doi": "doi",
    "acm_class": "acm_class", "acm-class": "acm_class", "msc_class": "msc_class", "msc-class": "msc_class",
    "report_no": "report_no", "report-no": "report_no", "submitter": "submitter", "license": "license",
    "revision": "revision", "version": "revision", "abstract_embedding": "embedding", "embedding": "embedding",
}


def _unwrap(value: Any, key: str) -> Any:
    """The arXiv API's {"name": ...} authors and {"term": ...} categories, as plain strings."""
    if isinstance(value, dict):
        return value.get(key, value)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [item.get(key, item) if isinstance(item, dict) else item for item in value]
    return value


def _from_jsonl(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    if row.keys() <= _JSONL_PLAIN_KEYS:  # our own sample's keys: the cheap path
        return _rename(row, _JSONL_RENAMES), _JSONL_NAMES
    canonical: dict[str, Any] = {}
    names = dict(_JSONL_NAMES)
    for key, value in row.items():
        target = JSONL_SYNONYMS.get(key)
        if target is not None and canonical.get(target) is None:
            canonical[target] = value
            names[target] = key
    for target, key in (("authors", "name"), ("categories", "term"), ("main_category", "term")):
        if target in canonical:
            canonical[target] = _unwrap(canonical[target], key)
    return canonical, names


_JSONL_PLAIN_KEYS = frozenset({"arxiv_id", "title", "abstract", "authors", "categories", "primary_category",
                               "created", "updated", "doi", "comments", "acm_class", "journal_ref",
                               "msc_class", "revision", "abstract_embedding"})


def _kaggle_versions(value: Any) -> tuple[Any, Any, Any] | None:
    """(created of v1, created of the last version, last version number) from Kaggle's `versions`."""
    if isinstance(value, str):
        if value.strip() in _MISSING_TEXT:
            return None
        try:
            value = parse_list_text(value)
        except ValueError as exc:
            raise FieldError("versions", value, str(exc)) from None
    elif is_missing(value):
        return None
    if isinstance(value, np.ndarray):
        value = list(value)
    if not isinstance(value, list):
        raise FieldError("versions", value, "expected a list of {version, created}")
    if not value:
        return None
    numbered: list[tuple[int, Any]] = []
    for entry in value:
        if not isinstance(entry, Mapping) or "created" not in entry:
            raise FieldError("versions", value, "each version must be an object with 'created'")
        m = _VERSION_RE.fullmatch(str(entry.get("version", "")).strip())
        numbered.append((int(m[1]) if m else -1, entry["created"]))
    if all(number > 0 for number, _ in numbered):
        first, last = min(numbered, key=lambda p: p[0]), max(numbered, key=lambda p: p[0])
        return first[1], last[1], last[0]
    return numbered[0][1], numbered[-1][1], None


def _kaggle_authors(row: Mapping[str, Any]) -> tuple[list[str] | Any, bool]:
    """Authors from `authors_parsed` ("First Last Suffix") when usable, else the raw `authors` string.

    `authors_parsed` has TeX accents decoded (Bal\\'azs -> Balázs) but spells hyphenated initials
    "C. -P."; they are put back as written ("C.-P. Yuan").
    """
    parsed = row.get("authors_parsed")
    if isinstance(parsed, str):
        if parsed.strip() in _MISSING_TEXT:
            parsed = None
        else:
            try:
                parsed = parse_list_text(parsed)
            except ValueError as exc:
                raise FieldError("authors_parsed", parsed, str(exc)) from None
    if isinstance(parsed, np.ndarray):
        parsed = list(parsed)
    if isinstance(parsed, list) and parsed:
        names: list[str] = []
        for entry in parsed:
            if isinstance(entry, np.ndarray):
                entry = list(entry)
            if isinstance(entry, str):
                names.append(entry)
            elif isinstance(entry, list | tuple) and all(isinstance(p, str) or p is None for p in entry):
                last, first, suffix = (list(entry[:3]) + [None, None, None])[:3]
                if first and ". -" in first:
                    first = first.replace(". -", ".-")
                names.append(" ".join(p for p in (first, last, suffix) if p))
            else:
                raise FieldError("authors_parsed", parsed, "expected [[last, first, suffix], ...]")
        return names, True
    if parsed is not None and not is_missing(parsed) and not isinstance(parsed, list):
        raise FieldError("authors_parsed", parsed, "expected [[last, first, suffix], ...]")
    authors = row.get("authors")
    if isinstance(authors, str) and authors.strip() not in _MISSING_TEXT and authors.strip()[0] != "[":
        return split_author_string(collapse(authors)), False
    return authors, False


def _from_kaggle(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    g = row.get
    versions = _kaggle_versions(g("versions"))
    if versions is None:
        published, updated, revision = None, g("update_date"), None
    else:
        published, updated, revision = versions
    authors, from_parsed = _kaggle_authors(row)
    if from_parsed:
        names = _KAGGLE_NAMES_PARSED if versions is not None else _KAGGLE_NAMES_PARSED_NO_VERSIONS
    else:
        names = _KAGGLE_NAMES if versions is not None else _KAGGLE_NAMES_NO_VERSIONS
    return {
        "arxiv_id": g("id"), "title": g("title"), "abstract": g("abstract"), "main_category": None,
        "categories": g("categories"), "published": published, "updated": updated, "revision": revision,
        "authors": authors, "doi": g("doi"), "arxiv_comment": g("comments"), "journal_ref": g("journal-ref"),
        "report_no": g("report-no"), "submitter": g("submitter"), "license": g("license"),
        "acm_class": g("acm-class"), "msc_class": g("msc-class"), "embedding": g("abstract_embedding"),
    }, names


_ADAPTERS: dict[str, Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, str]]]] = {
    "seed": _from_seed, "kaggle": _from_kaggle, "jsonl": _from_jsonl,
}
_AUTHOR_SPLITTERS: dict[str, Callable[[str], list[str]]] = {
    "seed": split_semicolons, "kaggle": split_author_string, "jsonl": split_semicolons,
}


# --------------------------------------------------------------------------- the normaliser


KNOWN_KEYS: dict[str, frozenset[str]] = {
    "seed": frozenset(_SEED_NAMES.values()) | {"abstract_embedding", "x_umap", "y_umap"},
    "kaggle": frozenset(_KAGGLE_NAMES.values()) | {"update_date", "authors_parsed", "abstract_embedding"},
    "jsonl": frozenset(JSONL_SYNONYMS),
}


def normalise(vocabulary: str, row: dict[str, Any], source_file: str, source_line: int,
              notes: SourceNotes | None = None) -> PaperRecord | Reject:
    """Turn one source row into a `PaperRecord`, or a `Reject` naming the first bad field. Never raises.

    `row` (a fresh dict from a reader) may be modified: keys are renamed in place, which is cheaper.
    Keys the vocabulary does not know are added to `notes.ignored_keys` (reported once per load).
    """
    if notes is not None and isinstance(row, dict) and not row.keys() <= KNOWN_KEYS[vocabulary]:
        notes.ignored_keys.update(str(key) for key in row.keys() - KNOWN_KEYS[vocabulary])
    try:
        canonical, names = _ADAPTERS[vocabulary](row)
        return _build(canonical, names, vocabulary, source_file, source_line)
    except FieldError as exc:
        return Reject(source_file, source_line, exc.field, truncate(exc.value), exc.reason)
    except Exception as exc:  # noqa: BLE001 - a bad row must never stop a load
        return Reject(source_file, source_line, "<row>", truncate(dict(row) if isinstance(row, Mapping) else row),
                      f"unexpected {type(exc).__name__}: {exc}")


def _text(c: dict[str, Any], names: dict[str, str], key: str) -> str | None:
    value = c.get(key)
    if value is None:
        return None
    if type(value) is str:
        text = collapse(value)
        return None if text in _MISSING_TEXT else text
    try:
        return clean_text(value)
    except ValueError as exc:
        raise FieldError(names.get(key, key), value, str(exc)) from None


def _date(c: dict[str, Any], names: dict[str, str], key: str) -> datetime | None:
    value = c.get(key)
    if value is None:
        return None
    if type(value) is str:
        cached = _date_cache.get(value)
        if cached is not None:
            return cached
    try:
        return to_datetime(value)
    except (ValueError, OverflowError) as exc:
        raise FieldError(names.get(key, key), value, f"{exc}") from None


_ID_PREFIX_RE = re.compile(r"^\s*(?:https?://(?:export\.)?arxiv\.org/(?:abs|pdf)/|oai:arXiv\.org:)", re.IGNORECASE)


def _parse_id(raw: Any, published: datetime | None, field: str) -> ParsedId:
    if isinstance(raw, str):
        text = _ID_PREFIX_RE.sub("", raw) if raw[:1] in ("h", "H", "o", " ") else raw
    elif isinstance(raw, float | np.floating) and not math.isnan(raw):
        text = str(float(raw))  # a spreadsheet or pandas made the id a number
    elif isinstance(raw, int | np.integer) and not isinstance(raw, bool):
        text = str(int(raw))
    elif is_missing(raw):
        raise FieldError(field, raw, "missing arXiv id")
    else:
        raise FieldError(field, raw, f"an arXiv id is text, not {type(raw).__name__}")
    try:
        return parse_arxiv_id(text)
    except ValueError as exc:
        if not text.strip():
            raise FieldError(field, raw, "missing arXiv id") from None
        if not looks_numeric(text):
            raise FieldError(field, raw, str(exc)) from None
        try:
            repaired = repair_float_id(text, published)
        except ValueError as repair_exc:
            raise FieldError(field, raw, f"unrepairable number-mangled id: {repair_exc}") from None
        return parse_arxiv_id(repaired)


def _categories(raw: Any, field: str) -> list[str]:
    """Valid, de-duplicated category codes from a list or text; FieldError names the bad one."""
    if type(raw) is list:
        out: list[str] = []
        for item in raw:
            if type(item) is str and item in _good_categories:
                out.append(item)
                continue
            break
        else:
            return list(dict.fromkeys(out)) if len(out) > 1 else out
    try:
        categories = to_text_list(raw, split_categories)
    except ValueError as exc:
        raise FieldError(field, raw, str(exc)) from None
    for category in categories:
        try:
            check_category(category)
        except ValueError as exc:
            raise FieldError(field, category, str(exc)) from None
    return list(dict.fromkeys(categories)) if len(categories) > 1 else categories


def _authors(raw: Any, field: str, split: Callable[[str], list[str]]) -> list[str]:
    if type(raw) is list:
        out: list[str] = []
        for item in raw:
            if type(item) is not str:
                break
            text = collapse(item)
            if text and text not in _MISSING_TEXT:
                out.append(text)
        else:
            return out
    try:
        return to_text_list(raw, split)
    except ValueError as exc:
        raise FieldError(field, raw, str(exc)) from None


_RECORD_FIELDS = (
    "arxiv_id", "title", "abstract", "main_category", "categories", "published", "source_file", "source_line",
    "revision", "updated", "authors", "journal_ref", "doi", "arxiv_comment", "arxiv_doi", "arxiv_year",
    "arxiv_number", "submitter", "report_no", "license", "acm_class", "msc_class", "embedding", "umap_x",
    "umap_y",
)


def _record_by_keywords(*values: Any) -> PaperRecord:
    return PaperRecord(**dict(zip(_RECORD_FIELDS, values, strict=True)))


# Positional construction is ~3x cheaper than 25 keywords; used only while the field order matches.
_make_record: Callable[..., PaperRecord] = (
    PaperRecord if tuple(f.name for f in fields(PaperRecord)) == _RECORD_FIELDS else _record_by_keywords
)


def _build(c: dict[str, Any], names: dict[str, str], vocabulary: str, source_file: str,
           source_line: int) -> PaperRecord:
    published_error: FieldError | None = None
    try:
        published = _date(c, names, "published")
    except FieldError as exc:
        published, published_error = None, exc
    parsed = _parse_id(c.get("arxiv_id"), published, names["arxiv_id"])

    title = _text(c, names, "title")
    if title is None:
        raise FieldError(names["title"], c.get("title"), "empty title")
    abstract = _text(c, names, "abstract")
    if abstract is None:
        raise FieldError(names["abstract"], c.get("abstract"), "empty abstract")
    if published_error is not None:
        raise published_error
    updated = _date(c, names, "updated")

    categories = _categories(c.get("categories"), names["categories"])
    main = _text(c, names, "main_category")
    if main is None:
        if not categories:
            raise FieldError(names["main_category"], c.get("main_category"), "no main category and no categories")
        main = categories[0]
    else:
        if main not in _good_categories:
            try:
                check_category(main)
            except ValueError as exc:
                raise FieldError(names["main_category"], main, str(exc)) from None
        if main not in categories:
            categories.insert(0, main)

    authors = _authors(c.get("authors"), names["authors"], _AUTHOR_SPLITTERS[vocabulary])

    revision = parsed.revision
    if revision is None and c.get("revision") is not None:
        try:
            revision = to_int(c["revision"])
        except ValueError as exc:
            raise FieldError(names["revision"], c["revision"], str(exc)) from None
        if revision is not None and revision < 1:
            raise FieldError(names["revision"], c["revision"], "revisions start at 1")

    arxiv_year, arxiv_number = parsed.arxiv_year, parsed.arxiv_number
    umap_x = umap_y = None
    if vocabulary == "seed":
        arxiv_year = _number(c, names, "arxiv_year", to_int, arxiv_year)
        arxiv_number = _number(c, names, "arxiv_number", to_int, arxiv_number)
        umap_x = _number(c, names, "umap_x", to_float, None)
        umap_y = _number(c, names, "umap_y", to_float, None)
    embedding = _embedding(c, names)

    g = c.get
    texts: dict[str, str | None] = {}
    for key in _OPTIONAL_TEXT:
        value = g(key)
        if value is not None:
            texts[key] = _text(c, names, key)
    t = texts.get
    record = _make_record(
        parsed.arxiv_id, title, abstract, main, categories, published, source_file, source_line,
        revision, updated, authors, t("journal_ref"), t("doi"), t("arxiv_comment"), t("arxiv_doi"),
        arxiv_year, arxiv_number, t("submitter"), t("report_no"), t("license"), t("acm_class"),
        t("msc_class"), embedding, umap_x, umap_y,
    )
    violation = enforce_limits(record)
    if violation is not None:
        raise FieldError(names.get(violation.field, violation.field), violation.value, violation.reason)
    return record


_OPTIONAL_TEXT = ("journal_ref", "doi", "arxiv_comment", "arxiv_doi", "submitter", "report_no", "license",
                  "acm_class", "msc_class")


def _number(c: dict[str, Any], names: dict[str, str], key: str, convert: Callable[[Any], Any],
            default: Any) -> Any:
    value = c.get(key)
    if value is None:
        return default
    try:
        number = convert(value)
    except (ValueError, OverflowError) as exc:
        raise FieldError(names.get(key, key), value, str(exc)) from None
    return default if number is None else number


def _embedding(c: dict[str, Any], names: dict[str, str]) -> np.ndarray | None:
    raw = c.get("embedding")
    if raw is None or isinstance(raw, np.ndarray):
        return raw
    if is_missing(raw):
        return None
    field = names.get("embedding", "abstract_embedding")
    try:
        vector = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise FieldError(field, raw, f"not a vector of numbers: {exc}") from None
    if vector.ndim != 1:
        raise FieldError(field, raw, "not a one-dimensional vector")
    return vector
