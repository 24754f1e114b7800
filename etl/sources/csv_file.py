"""CSV reader: the Kaggle columns, or our jsonl columns (or the seed's), picked from the header."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from app.core.records import PaperRecord, Reject, SourceNotes, StructuralError
from etl.sources.detect import GZIP_ERRORS, csv_header, open_text
from etl.sources.normalise import missing_columns, normalise, truncate, vocabulary_of

_SURROGATE_RE = re.compile("[\udc80-\udcff]")


def check_csv(path: Path) -> tuple[list[str], str]:
    """The header and vocabulary of `path`; StructuralError for no header or missing required columns."""
    header = csv_header(path)
    vocabulary = vocabulary_of(header)
    if vocabulary is None:
        raise StructuralError(f"{path}: CSV header has neither an 'id' nor an 'arxiv_id' column: {header[:20]}")
    missing = missing_columns(vocabulary, header)
    if missing:
        raise StructuralError(f"{path}: CSV ({vocabulary} columns) lacks required columns {missing}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise StructuralError(f"{path}: CSV header repeats columns {duplicated}")
    return header, vocabulary


def read_csv(path: Path, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    """Check the header now (StructuralError), then stream rows; line = physical line where a row starts."""
    path = Path(path)
    header, vocabulary = check_csv(path)
    return _stream(path, header, vocabulary, notes)


def _stream(
    path: Path, header: list[str], vocabulary: str, notes: SourceNotes | None,
) -> Iterator[PaperRecord | Reject]:
    source_file = str(path)
    width = len(header)
    with open_text(path) as f:
        reader = csv.reader(f)
        try:
            next(reader)  # the header, checked already
        except (StopIteration, csv.Error):
            return
        except GZIP_ERRORS as exc:
            raise StructuralError(f"{path}: corrupt or truncated gzip data: {exc}") from None
        last_line = reader.line_num
        while True:
            start = last_line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last_line = reader.line_num
                yield Reject(source_file, start, "<line>", "", f"CSV syntax error: {exc}")
                continue
            except GZIP_ERRORS as exc:
                raise StructuralError(f"{path}: corrupt or truncated gzip data: {exc}") from None
            last_line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank line or a spreadsheet's empty row: not a record
            bad_bytes = [cell for cell in row if not cell.isascii() and _SURROGATE_RE.search(cell)]
            if bad_bytes:
                value = bad_bytes[0].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                yield Reject(source_file, start, "<line>", truncate(value), "not valid UTF-8")
                continue
            if len(row) != width:
                yield Reject(source_file, start, "<line>", truncate(",".join(row)),
                             f"expected {width} fields as in the header, got {len(row)}")
                continue
            yield normalise(vocabulary, dict(zip(header, row, strict=True)), source_file, start, notes)
