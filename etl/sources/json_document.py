"""One JSON document holding a list of papers: a top-level list, or a list under a key of an object
({"papers": [...]}, {"entries": [...]}, ...), as people save API results. Each paper is read in the
vocabulary its keys speak (kaggle or jsonl, with the jsonl synonyms: summary, published, comment...);
its line is where its object starts in the file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.records import PaperRecord, Reject, SourceNotes, StructuralError
from etl.sources.detect import GZIP_ERRORS, json_vocabulary, open_binary
from etl.sources.normalise import normalise, truncate

LIST_KEYS = ("papers", "entries", "results", "items", "records", "data", "articles", "documents")
MAX_DOCUMENT_BYTES = 2 << 30
_SPACE_RE = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


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


def read_json_document(path: Path, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    path = Path(path)
    text, key = check_json_document(path)
    return _stream(path, text, key, notes)


def _skip(text: str, position: int) -> int:
    return _SPACE_RE.match(text, position).end()


def _list_start(text: str, key: str | None) -> int:
    """Index of the '[' of the list of papers: walk the top-level object member by member."""
    position = _skip(text, 0)
    if key is None:
        return position
    position = _skip(text, position + 1)  # past '{'
    while True:
        name, position = _decoder.raw_decode(text, position)
        position = _skip(text, _skip(text, position) + 1)  # past ':'
        if name == key:
            return position
        _, position = _decoder.raw_decode(text, position)
        position = _skip(text, _skip(text, position) + 1)  # past ','


def _stream(path: Path, text: str, key: str | None, notes: SourceNotes | None) -> Iterator[PaperRecord | Reject]:
    source_file = str(path)
    position = _skip(text, _list_start(text, key) + 1)  # past '['
    line, counted = 1, 0
    while text[position] != "]":
        line += text.count("\n", counted, position)
        counted = position
        item, position = _decoder.raw_decode(text, position)
        position = _skip(text, position)
        if text[position] == ",":
            position = _skip(text, position + 1)
        if not isinstance(item, dict):
            yield Reject(source_file, line, "<item>", truncate(item), f"not a JSON object but {type(item).__name__}")
            continue
        vocabulary = json_vocabulary(item) or "jsonl"
        yield normalise(vocabulary, item, source_file, line, notes)
