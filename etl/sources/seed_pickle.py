"""Reader for the original project's pandas pickle (18 columns, float16 256-d `abstract_embedding`).

Unpickling runs code from the file: only read pickles you trust.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.core.records import PaperRecord, Reject, SourceNotes, StructuralError
from etl.sources.detect import is_gzip
from etl.sources.normalise import is_missing, normalise

SEED_EMBEDDING_DIM = 256
SEED_COLUMNS = (
    "title", "arxiv_id", "abstract", "main_category", "categories", "revision", "published", "updated",
    "authors", "journal_ref", "doi", "arxiv_comment", "arxiv_DOI", "abstract_embedding", "arxiv_year",
    "arxiv_number",
)
OPTIONAL_SEED_COLUMNS = ("x_umap", "y_umap")  # absent in the "Combined" dataset


def load_seed_frame(path: Path) -> pd.DataFrame:
    """Unpickle `path` (gzip or not) and check it: a DataFrame with the seed's columns and 256-d vectors."""
    path = Path(path)
    gz = is_gzip(path)
    try:
        frame = pd.read_pickle(path, compression="gzip" if gz else None)  # noqa: S301 - the seed's own pickles; docs/security.md: load pickles only from a trusted source
    except Exception as exc:  # noqa: BLE001 - whatever unpickling fails with, the file is unusable
        raise StructuralError(f"{path}: not a readable pickle: {type(exc).__name__}: {exc}") from None
    if not isinstance(frame, pd.DataFrame):
        raise StructuralError(f"{path}: the pickle holds a {type(frame).__name__}, not a pandas DataFrame")
    missing = [name for name in SEED_COLUMNS if name not in frame.columns]
    if missing:
        raise StructuralError(f"{path}: seed pickle lacks columns {missing}")
    check_embedding_widths(path, frame["abstract_embedding"].tolist())
    return frame


def check_embedding_widths(path: Path, vectors: list[Any]) -> None:
    """StructuralError unless every present vector has shape (256,)."""
    expected = (SEED_EMBEDDING_DIM,)
    for row_number, vector in enumerate(vectors, start=1):
        if isinstance(vector, np.ndarray):
            if vector.shape == expected:
                continue
            shape = vector.shape
        elif vector is None or (not isinstance(vector, list | tuple) and is_missing(vector)):
            continue
        else:
            try:
                shape = np.asarray(vector).shape
            except (TypeError, ValueError):
                shape = ("?",)
            if shape == expected:
                continue
        raise StructuralError(
            f"{path}: row {row_number}: abstract_embedding has shape {shape}, expected {expected}"
        )


def read_seed_pickle(path: Path, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    """Load and check the whole pickle now (StructuralError), then yield its rows (line = row number)."""
    path = Path(path)
    frame = load_seed_frame(path)
    ignored = [str(name) for name in frame.columns if name not in SEED_COLUMNS + OPTIONAL_SEED_COLUMNS]
    if notes is not None and ignored:
        notes.ignored_keys.update(ignored)
    return _stream(path, frame)


def _stream(path: Path, frame: pd.DataFrame) -> Iterator[PaperRecord | Reject]:
    source_file = str(path)
    names = [name for name in SEED_COLUMNS + OPTIONAL_SEED_COLUMNS if name in frame.columns]
    columns = [frame[name].tolist() for name in names]
    del frame
    for row_number, values in enumerate(zip(*columns, strict=True), start=1):
        yield normalise("seed", dict(zip(names, values, strict=True)), source_file, row_number)
