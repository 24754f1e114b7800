"""One JSON document holding a list of papers: a top-level list, or a list under a key of an object
({"papers": [...]}, {"entries": [...]}, ...), as people save API results. Each paper is read in the
vocabulary its keys speak (kaggle or jsonl, with the jsonl synonyms: summary, published, comment...);
its line is where its object starts in the file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from app.core.records import PaperRecord, Reject, SourceNotes
from etl.sources.detect import check_json_document, json_vocabulary
from etl.sources.normalise import normalise, truncate

_SPACE_RE = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


def read_json_document(path: Path, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    path = Path(path)
    text, key = check_json_document(path)
    return _stream(path, text, key, notes)


def _skip(text: str, position: int) -> int:
    return _SPACE_RE.match(text, position).end()  # type: ignore[union-attr]  # [ \t\n\r]* matches anywhere


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
