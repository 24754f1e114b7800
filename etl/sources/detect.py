"""Open source files (gzip or not) and tell their format from their content, never from their name."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from app.core.records import StructuralError
from etl.sources.normalise import vocabulary_of

GZIP_MAGIC = b"\x1f\x8b"
PICKLE_MAGIC = b"\x80"
PARQUET_MAGIC = b"PAR1"
_PEEK_BYTES = 1 << 20
_MAX_PEEK_BYTES = 64 << 20
_CHUNK = 1 << 20

# Keys that mark the first JSON object of a file as Kaggle's vocabulary or as ours (jsonl).
KAGGLE_KEYS = frozenset({"id", "versions", "authors_parsed", "update_date", "journal-ref", "report-no",
                         "submitter", "license"})
JSONL_KEYS = frozenset({"arxiv_id", "primary_category", "created", "comments", "acm_class",
                        # what people save from the arXiv API
                        "summary", "published", "comment", "journal_ref", "entry_id"})

GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def is_gzip(path: Path) -> bool:
    """Whether `path` starts with the gzip magic; StructuralError when it cannot be read, or is named
    .gz without being gzip."""
    try:
        with Path(path).open("rb") as f:
            magic = f.read(2)
    except FileNotFoundError:
        raise StructuralError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise StructuralError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise StructuralError(f"{path}: cannot read: {exc}") from None
    gz = magic == GZIP_MAGIC
    if not gz and path.name.lower().endswith(".gz"):
        raise StructuralError(f"{path}: named .gz but not gzip-compressed")
    return gz


def open_binary(path: Path) -> BinaryIO:
    """The decompressed byte stream of `path` (gzip detected from the magic bytes).

    The first block is decompressed here, so a corrupt gzip header fails now as a StructuralError.
    """
    if not is_gzip(path):
        return Path(path).open("rb")  # the caller closes it
    stream = gzip.open(path, "rb")  # noqa: SIM115 - returned open to the caller, who closes it
    try:
        stream.peek(1)
    except GZIP_ERRORS + (OSError,) as exc:
        stream.close()
        raise StructuralError(f"{path}: corrupt gzip data: {exc}") from None
    return stream  # type: ignore[return-value]


def peek(path: Path, size: int = _PEEK_BYTES) -> bytes:
    """Up to `size` bytes of the decompressed content of `path`."""
    with open_binary(path) as stream:
        try:
            return stream.read(size)
        except GZIP_ERRORS as exc:
            raise StructuralError(f"{path}: corrupt gzip data: {exc}") from None


def iter_text_lines(stream: BinaryIO, path: Path) -> Iterator[str | bytes]:
    """The lines of `stream` (split on "\\n" only), decoded as UTF-8 a whole block at a time.

    A line that is not valid UTF-8 comes back as bytes. Gzip damage -> StructuralError when reached.
    """
    rest = b""
    read = stream.read
    while True:
        try:
            block = read(_CHUNK)
        except GZIP_ERRORS as exc:
            raise StructuralError(f"{path}: corrupt or truncated gzip data: {exc}") from None
        if not block:
            break
        if rest:
            block = rest + block
        cut = block.rfind(b"\n")
        if cut < 0:
            rest = block
            continue
        rest = block[cut + 1:]
        yield from _decode_lines(block[:cut])
    if rest:
        yield from _decode_lines(rest)


def _decode_lines(chunk: bytes) -> list[str | bytes]:
    try:
        return chunk.decode("utf-8").split("\n")  # type: ignore[return-value]
    except UnicodeDecodeError:
        lines: list[str | bytes] = []
        for line in chunk.split(b"\n"):
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(line)
        return lines


def first_json_object(path: Path, max_lines: int = 100) -> dict | None:
    """The first line of `path` that parses as a JSON object (within `max_lines` lines), or None."""
    size = _PEEK_BYTES
    while True:
        head = peek(path, size)
        complete = head.endswith(b"\n") or len(head) < size
        lines = head.split(b"\n")
        if not complete:
            lines.pop()
        for line in lines[:max_lines]:
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(obj, dict):
                return obj
        if complete or len(lines) >= max_lines or size >= _MAX_PEEK_BYTES:
            return None
        size *= 4


def json_vocabulary(obj: dict) -> str | None:
    """"kaggle" or "jsonl" from the keys of a JSON object, None when it is neither."""
    keys = set(obj)
    kaggle, ours = len(keys & KAGGLE_KEYS), len(keys & JSONL_KEYS)
    if ours != kaggle:
        return "jsonl" if ours > kaggle else "kaggle"
    if "arxiv_id" in keys:
        return "jsonl"
    if "id" in keys:
        return "kaggle"
    return None


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file (stripped names), StructuralError when there is none."""
    with open_text(path) as f:
        try:
            header = next(csv.reader(f), None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise StructuralError(f"{path}: unreadable CSV header: {exc}") from None
        except GZIP_ERRORS as exc:
            raise StructuralError(f"{path}: corrupt gzip data: {exc}") from None
    if not header:
        raise StructuralError(f"{path}: empty CSV (no header)")
    return [name.strip() for name in header]


def open_text(path: Path) -> io.TextIOWrapper:
    """`path` as text for the csv module: UTF-8 (BOM skipped), bad bytes kept as surrogates, newline=""."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="surrogateescape", newline="")


SUPPORTED = ("seed-pickle (pandas pickle), kaggle (JSON lines: id, versions, ...), jsonl (JSON lines: arxiv_id or "
             "id, title, abstract or summary, ...), json (one JSON document with a list of papers), csv (a header "
             "with id or arxiv_id), parquet, oai-pmh (OAI-PMH XML: arXiv, arXivRaw, oai_dc), atom (arXiv API feed)")


def looks_like(head: bytes) -> str:
    """A few words on what a file that no reader takes looks like, for the refusal."""
    if not head:
        return "an empty file"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    try:
        sample = text[:60].decode("utf-8")
    except UnicodeDecodeError:
        return "binary data"
    if not sample.isprintable() and not all(c.isprintable() or c.isspace() for c in sample):
        return "binary data"
    first_line = sample.split("\n", 1)[0]
    if text.startswith(b"<"):
        return f"XML or HTML starting {first_line!r}"
    return f"text starting {first_line!r}"


def _is_json_document(path: Path) -> bool:
    try:
        check_json_document(path)
    except StructuralError:
        return False
    return True


def detect_format(path: Path) -> str:
    """One of FORMATS, from the content of `path` (gzip looked into); StructuralError when unknown."""
    path = Path(path)
    gz = is_gzip(path)
    head = peek(path, 4096)
    if not head:
        raise StructuralError(f"{path}: empty file")
    if head.startswith(PARQUET_MAGIC):
        if gz:
            raise StructuralError(f"{path}: gzip-compressed parquet is not supported; decompress it first")
        return "parquet"
    if head.startswith(PICKLE_MAGIC):
        return "seed-pickle"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        if b"<OAI-PMH" in head:
            return "oai-pmh"
        if b"<feed" in head and b"http://www.w3.org/2005/Atom" in head:
            return "atom"
        raise StructuralError(f"{path}: unknown format: XML, but neither an OAI-PMH response nor an Atom feed "
                              f"({looks_like(head)}); supported: {SUPPORTED}")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        first_line = text.split(b"\n", 1)[0]
        try:
            first_is_object = isinstance(json.loads(first_line), dict)
        except (ValueError, RecursionError):
            first_is_object = False
        if (not first_is_object or json_vocabulary(json.loads(first_line)) is None) and _is_json_document(path):
            return "json"
        obj = first_json_object(path)
        if obj is None:
            raise StructuralError(f"{path}: looks like JSON lines, but no line near the top is a JSON object")
        vocabulary = json_vocabulary(obj)
        if vocabulary is None:
            raise StructuralError(
                f"{path}: JSON lines with neither arXiv metadata keys (id, versions, ...) nor ours "
                f"(arxiv_id, primary_category, ...): {sorted(obj)[:12]}"
            )
        return vocabulary
    try:
        header = csv_header(path)
    except StructuralError:
        header = []
    if vocabulary_of(header) is not None:
        return "csv"
    raise StructuralError(f"{path}: unknown format: it looks like {looks_like(head)}; supported: {SUPPORTED}")


# ---- one JSON document holding a list of papers (read by json_document.py) ----------------------
LIST_KEYS = ("papers", "entries", "results", "items", "records", "data", "articles", "documents")
MAX_DOCUMENT_BYTES = 2 << 30


def read_text(path: Path) -> str:
    """The whole file as text; StructuralError when it is not UTF-8."""
    try:
        with open_binary(path) as stream:
            data = stream.read(MAX_DOCUMENT_BYTES)
    except GZIP_ERRORS as exc:
        raise StructuralError(f"{path}: corrupt gzip data: {exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StructuralError(f"{path}: a JSON document must be UTF-8: {exc}") from None


def papers_key(document: Any) -> str | None:
    """The key of an object whose value is the list of papers (known names first), None for a list."""
    if isinstance(document, list):
        return None
    if isinstance(document, dict):
        lists = [k for k, v in document.items() if isinstance(v, list) and (not v or isinstance(v[0], dict))]
        for key in LIST_KEYS:
            if key in lists:
                return key
        if lists:
            return lists[0]
    raise ValueError("not a JSON list of papers, nor an object holding one")


def check_json_document(path: Path) -> tuple[str, str | None]:
    """(text, key of the list of papers or None for a top-level list); StructuralError otherwise."""
    text = read_text(path)
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise StructuralError(f"{path}: not one JSON document: {exc}") from None
    try:
        return text, papers_key(document)
    except ValueError as exc:
        keys = sorted(document)[:12] if isinstance(document, dict) else type(document).__name__
        raise StructuralError(f"{path}: {exc} (found {keys})") from None
