"""Reader for the Kaggle arXiv metadata snapshot (JSON lines: id, versions, authors_parsed, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from app.core.records import PaperRecord, Reject, SourceNotes
from etl.sources.jsonl import read_json_lines


def read_kaggle(path: Path, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    """Stream the Kaggle snapshot: published = v1 created, updated = last version, authors from authors_parsed."""
    return read_json_lines(path, "kaggle", notes)
