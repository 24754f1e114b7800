"""JSON lines readers: our `jsonl` sample vocabulary, and the shared streaming loop the Kaggle reader uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.records import PaperRecord, Reject, SourceNotes, StructuralError
from etl.sources.detect import first_json_object, iter_text_lines, json_vocabulary, open_binary
from etl.sources.normalise import REQUIRED_COLUMNS, normalise, truncate


def check_json_lines(path: Path, vocabulary: str) -> None:
    """Raise StructuralError unless the first JSON object of `path` speaks `vocabulary` (by its keys).

    Only the vocabulary is checked here: a first row that merely lacks a field is a reject, like any row.
    """
    obj = first_json_object(path)
    if obj is None:
        raise StructuralError(f"{path}: no line near the top is a JSON object; not JSON lines")
    found = json_vocabulary(obj)
    if found != vocabulary:
        required = list(REQUIRED_COLUMNS[vocabulary])
        raise StructuralError(
            f"{path}: the first JSON object does not look like {vocabulary} lines (expected keys like "
            f"{required}, found {sorted(obj)[:12]})"
        )


def read_json_lines(path: Path, vocabulary: str, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    """Check `path` now (StructuralError), then stream one record or reject per non-blank line."""
    path = Path(path)
    check_json_lines(path, vocabulary)
    return _stream(path, vocabulary, notes)


_decoder = json.JSONDecoder()


def parse_json_line(line: str) -> Any:
    """The JSON value of one line; ValueError (or RecursionError) when it is not exactly one value."""
    try:
        value, end = _decoder.scan_once(line, 0)  # type: ignore[attr-defined]  # json.loads minus its per-call overhead
    except StopIteration:
        return json.loads(line)  # leading whitespace, or not JSON: loads gives the proper error
    if end != len(line) and not line[end:].isspace():
        return json.loads(line)  # raises "Extra data"
    return value


def _stream(path: Path, vocabulary: str, notes: SourceNotes | None) -> Iterator[PaperRecord | Reject]:
    source_file = str(path)
    with open_binary(path) as stream:
        for line_number, line in enumerate(iter_text_lines(stream, path), start=1):
            if type(line) is bytes:
                yield Reject(source_file, line_number, "<line>", truncate(line), "not valid UTF-8")
                continue
            try:
                obj = parse_json_line(line)  # type: ignore[arg-type]
            except (ValueError, RecursionError) as exc:
                if not line.strip():
                    continue  # blank lines are not records
                yield Reject(source_file, line_number, "<line>", truncate(line), f"invalid JSON: {exc}")
                continue
            if type(obj) is not dict:
                yield Reject(source_file, line_number, "<line>", truncate(line),
                             f"not a JSON object but {type(obj).__name__}")
                continue
            yield normalise(vocabulary, obj, source_file, line_number, notes)


def read_jsonl(path: Path, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    """Our sample vocabulary (arxiv_id, title, abstract, authors, categories, primary_category, created...),
    and what people save from the arXiv API (id, summary, published, comment, journal_ref, ...)."""
    return read_json_lines(path, "jsonl", notes)
