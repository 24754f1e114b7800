"""Parquet reader (any of the three vocabularies), by row batches; embeddings from `abstract_embedding`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from app.core.records import PaperRecord, Reject, SourceNotes, StructuralError
from etl.sources.detect import is_gzip
from etl.sources.normalise import missing_columns, normalise, vocabulary_of

EMBEDDING_COLUMN = "abstract_embedding"
BATCH_ROWS = 8192


def _open(path: Path) -> pq.ParquetFile:
    if is_gzip(path):
        raise StructuralError(f"{path}: gzip-compressed parquet is not supported; decompress it first")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise StructuralError(f"{path}: not a readable parquet file: {exc}") from None


def _is_list(dtype: pa.DataType) -> bool:
    return pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)


def check_parquet(path: Path) -> tuple[str, int | None]:
    """The vocabulary and embedding width of `path`; StructuralError for missing columns or ragged vectors."""
    pf = _open(path)
    schema = pf.schema_arrow
    vocabulary = vocabulary_of(schema.names)
    if vocabulary is None:
        raise StructuralError(f"{path}: parquet has neither an 'id' nor an 'arxiv_id' column: {schema.names[:20]}")
    missing = missing_columns(vocabulary, schema.names)
    if missing:
        raise StructuralError(f"{path}: parquet ({vocabulary} columns) lacks required columns {missing}")
    if EMBEDDING_COLUMN not in schema.names:
        return vocabulary, None
    dtype = schema.field(EMBEDDING_COLUMN).type
    if not _is_list(dtype) or not (
        pa.types.is_floating(dtype.value_type) or pa.types.is_integer(dtype.value_type)
    ):
        raise StructuralError(f"{path}: column {EMBEDDING_COLUMN} is {dtype}, not a list of numbers")
    if pa.types.is_fixed_size_list(dtype):
        return vocabulary, dtype.list_size
    try:
        column = pq.read_table(path, columns=[EMBEDDING_COLUMN]).column(EMBEDDING_COLUMN)
    except (pa.ArrowException, OSError) as exc:
        raise StructuralError(f"{path}: cannot read column {EMBEDDING_COLUMN}: {exc}") from None
    lengths = pc.list_value_length(column)
    widths = pc.unique(lengths.filter(pc.is_valid(lengths))).to_pylist()
    if len(widths) > 1:
        raise StructuralError(f"{path}: {EMBEDDING_COLUMN} vectors have different widths {sorted(widths)[:10]}")
    return vocabulary, (widths[0] if widths else None)


def read_parquet(path: Path, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    """Check `path` now (StructuralError), then stream its rows batch by batch (line = 1-based row number)."""
    path = Path(path)
    vocabulary, width = check_parquet(path)
    return _stream(path, vocabulary, width, notes)


def _embeddings(column: pa.Array, width: int | None) -> list[Any]:
    """One numpy vector (or None) per row of a list column, keeping the stored dtype (float16 stays)."""
    if width is None:
        return [None] * len(column)
    if column.null_count == 0:
        values = column.flatten().to_numpy(zero_copy_only=False)
        return list(values.reshape(len(column), width))
    dtype = column.type.value_type.to_pandas_dtype()
    return [None if v is None else np.asarray(v, dtype=dtype) for v in column.to_pylist()]


def _stream(path: Path, vocabulary: str, width: int | None, notes: SourceNotes | None,
            ) -> Iterator[PaperRecord | Reject]:
    source_file = str(path)
    pf = _open(path)
    names = pf.schema_arrow.names
    others = [name for name in names if name != EMBEDDING_COLUMN]
    row_number = 0
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            rows = batch.select(others).to_pylist()
            if EMBEDDING_COLUMN in names:
                for row, vector in zip(rows, _embeddings(batch.column(EMBEDDING_COLUMN), width), strict=True):
                    row[EMBEDDING_COLUMN] = vector
            for row in rows:
                row_number += 1
                yield normalise(vocabulary, row, source_file, row_number, notes)
    except (pa.ArrowException, OSError) as exc:
        raise StructuralError(f"{path}: unreadable parquet data after row {row_number}: {exc}") from None
    finally:
        pf.close()
