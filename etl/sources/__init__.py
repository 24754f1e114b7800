"""Source readers: every supported input file -> a stream of `PaperRecord` or `Reject`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from app.core.records import PaperRecord, Reject, SourceNotes
from etl.sources.atom import read_atom
from etl.sources.csv_file import read_csv
from etl.sources.detect import detect_format
from etl.sources.json_document import read_json_document
from etl.sources.jsonl import read_jsonl
from etl.sources.kaggle import read_kaggle
from etl.sources.oai_pmh import read_oai_pmh
from etl.sources.parquet_file import read_parquet
from etl.sources.seed_pickle import read_seed_pickle

FORMATS = ("seed-pickle", "kaggle", "jsonl", "json", "csv", "parquet", "oai-pmh", "atom")

_READERS: dict[str, Callable[[Path, SourceNotes | None], Iterator[PaperRecord | Reject]]] = {
    "seed-pickle": read_seed_pickle,
    "kaggle": read_kaggle,
    "jsonl": read_jsonl,
    "csv": read_csv,
    "parquet": read_parquet,
    "json": read_json_document,
    "oai-pmh": read_oai_pmh,
    "atom": read_atom,
}


def read_source(path: Path, fmt: str = "auto", notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    """Records and rejects of `path` in file order.

    File-level problems raise `StructuralError` here, before the first row is yielded (a gzip stream
    damaged midway can only be noticed when reached, and raises it then). `fmt` is one of FORMATS or
    "auto" (detected from the content); an unknown name is a ValueError. What the reader notices
    besides rows (ignored keys, unmapped names) goes into `notes`.
    """
    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path)
    reader = _READERS.get(fmt)
    if reader is None:
        raise ValueError(f"unknown source format {fmt!r}; expected 'auto' or one of {', '.join(FORMATS)}")
    return reader(path, notes)


__all__ = ["FORMATS", "detect_format", "read_source"]
