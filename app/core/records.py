"""The one shape every source is read into: a `PaperRecord`, or a `Reject` saying why not.

Readers in `etl/sources/` yield these; `etl/load.py` copies the records into Postgres and writes the
rejects to a report. Field names are the columns of the `papers` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from app.core.errors import AtlasError


@dataclass(slots=True)
class PaperRecord:
    arxiv_id: str  # without version; old-style ids whole ("hep-th/9901001")
    title: str
    abstract: str
    main_category: str
    categories: list[str]
    published: datetime | None  # timezone-aware (UTC when the source has no zone)
    source_file: str
    source_line: int  # 1-based line (JSON lines, CSV data line) or row number (pickle, parquet)
    revision: int | None = None  # the "vN" suffix, split off the id
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    journal_ref: str | None = None
    doi: str | None = None
    arxiv_comment: str | None = None
    arxiv_doi: str | None = None
    arxiv_year: int | None = None  # first part of a new-style id (2303 of 2303.08774); YYMM of old ones
    arxiv_number: int | None = None  # second part (8774); the serial of old-style ids
    submitter: str | None = None
    report_no: str | None = None
    license: str | None = None
    acm_class: str | None = None
    msc_class: str | None = None
    embedding: np.ndarray | None = None  # native vector as the source ships it (seed: float16 256-d)
    umap_x: float | None = None  # the seed's per-archive map coordinates
    umap_y: float | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    source_file: str
    source_line: int
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source_file}:{self.source_line}: field {self.field!r} = {self.value!r}: {self.reason}"


@dataclass(slots=True)
class SourceNotes:
    """What readers noticed besides rows (keys they ignored, names they could not map, files skipped).

    One per load, shared by every reader, so that each thing is reported once per load.
    """

    ignored_keys: set[str] = field(default_factory=set)
    messages: dict[str, None] = field(default_factory=dict)  # insertion-ordered, de-duplicated

    def note(self, message: str) -> None:
        self.messages[message] = None

    def lines(self) -> list[str]:
        lines = [f"ignored keys: {', '.join(sorted(self.ignored_keys))}"] if self.ignored_keys else []
        return lines + list(self.messages)


class StructuralError(AtlasError):
    """The input as a whole cannot be loaded (unreadable file, wrong vector width, misaligned .npy).

    Raised before anything is written, so the database stays unchanged.
    """
