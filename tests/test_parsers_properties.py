"""Property tests of the ETL parsers and the loader: no input crashes them, and every row is either
loaded or rejected with a reason (rows in = loaded + updated + unchanged + rejected).

The JSON lines readers have their own properties in test_sources.py; here: any bytes as a file, CSV
with any cells, any row in any vocabulary, and whole files of real and broken rows loaded into a
real database.
"""

from __future__ import annotations

import csv
import gzip
import json
import tempfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_formats import JSONL_COLUMNS, KAGGLE_COLUMNS

from app.core.records import PaperRecord, Reject, StructuralError
from app.core.settings import Settings, get_settings
from etl.load import LoadOptions, load_sources
from etl.sources import read_source
from etl.sources.normalise import normalise

SEED_COLUMNS = ("arxiv_id", "title", "abstract", "main_category", "categories", "published", "updated", "authors",
                "journal_ref", "doi", "revision", "abstract_embedding", "x_umap", "y_umap")
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=3),
                      max_leaves=8)
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def real_rows(count: int = 30) -> list[dict[str, Any]]:
    with gzip.open(get_settings().shared_data_dir / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8") as lines:
        return [json.loads(next(lines)) for _ in range(count)]


REAL_ROWS = real_rows()


def check_answer(item: PaperRecord | Reject) -> None:
    """A record, or a reject that says which field and why (never the catch-all of an unexpected error)."""
    assert isinstance(item, PaperRecord | Reject)
    if isinstance(item, Reject):
        assert item.reason and item.field != "<row>", str(item)


# ---- parsers -------------------------------------------------------------------------------------------
MAGIC = st.sampled_from([b"", b"\x1f\x8b", b"PAR1", b"{", b'{"id": "0704.0001", ', b"arxiv_id,title,abstract,",
                         b"id,title,abstract,categories\n", b"\xef\xbb\xbf"])


@given(head=MAGIC, body=st.binary(max_size=400))
@QUICK
def test_any_bytes_are_read_or_refused_as_a_whole_never_crash(head: bytes, body: bytes) -> None:
    """Pickles are left out: unpickling runs code, so seed pickles are trusted input (docs/security.md)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input"
        path.write_bytes(head + body)
        try:
            items = list(read_source(path))
        except StructuralError as exc:
            assert str(path) in str(exc)  # a refusal names the file
            return
    for item in items:
        check_answer(item)


@given(vocabulary=st.sampled_from([JSONL_COLUMNS, KAGGLE_COLUMNS]), data=st.data())
@QUICK
def test_csv_with_any_cells_answers_every_row(vocabulary: tuple[str, ...], data: st.DataObject) -> None:
    header = list(vocabulary)
    cell = TEXT | st.sampled_from(["", "0704.0001", "704.0001", "cs.AI", "2007-04-02", '"', ",", "\n", "1e5"])
    rows = data.draw(st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), max_size=8))
    rows += data.draw(st.lists(st.lists(cell, max_size=len(header) + 2), max_size=2))  # wrong widths
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        items = list(read_source(path, "csv"))
    assert len(items) == sum(any(c.strip() for c in row) for row in rows)  # blank rows are not records
    for item in items:
        check_answer(item)


@given(vocabulary=st.sampled_from(["seed", "kaggle", "jsonl"]), data=st.data())
@QUICK
def test_normalise_answers_any_row_of_any_vocabulary(vocabulary: str, data: st.DataObject) -> None:
    columns = {"seed": SEED_COLUMNS, "kaggle": KAGGLE_COLUMNS, "jsonl": JSONL_COLUMNS}[vocabulary]
    template = REAL_ROWS[data.draw(st.integers(0, len(REAL_ROWS) - 1))] if vocabulary == "jsonl" else {}
    changes = data.draw(st.dictionaries(st.sampled_from(columns), VALUES, max_size=6))
    check_answer(normalise(vocabulary, {**template, **changes}, "input", 1))


# ---- the loader -------------------------------------------------------------------------------------------
@st.composite
def jsonl_lines(draw: st.DrawFn) -> list[str]:
    """Real rows (some repeated, some with a field changed or broken) and lines that are not rows at all."""
    real = st.sampled_from(REAL_ROWS)
    changed = st.tuples(real, st.sampled_from(JSONL_COLUMNS), VALUES).map(lambda t: {**t[0], t[1]: t[2]})
    line = st.one_of(real.map(json.dumps), changed.map(json.dumps), TEXT.filter(lambda t: "\n" not in t),
                     VALUES.map(json.dumps))
    return draw(st.lists(line, min_size=1, max_size=12))


@pytest.fixture(scope="module")
def load_db(pg_admin_url: str, template_database: str, base_settings: Settings, tmp_path_factory):
    """One database for every example: later loads meet earlier rows (unchanged, updated)."""
    from conftest import fresh_database

    with fresh_database(pg_admin_url, template_database, base_settings, "atlas_props",
                        tmp_path_factory.mktemp("props")) as settings:
        yield settings


@given(lines=jsonl_lines())
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_row_is_loaded_or_rejected_with_a_reason(load_db: Settings, lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder, psycopg.connect(load_db.database_url, autocommit=True) as conn:
        path = Path(folder) / "input.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            parsed = list(read_source(path, "jsonl"))
        except StructuralError:  # not JSON lines at all: the whole file is refused and nothing changes
            before = conn.execute("select count(*), max(changed_at) from papers").fetchone()
            with pytest.raises(StructuralError):
                load_sources(load_db, LoadOptions(sources=[path], fmt="jsonl", progress=False))
            assert conn.execute("select count(*), max(changed_at) from papers").fetchone() == before
            return
        summary = load_sources(load_db, LoadOptions(sources=[path], fmt="jsonl", progress=False))
    rows_in = sum(1 for line in lines if line.strip())
    assert summary.rows_in == rows_in
    assert summary.loaded + summary.updated + summary.unchanged + summary.rejected == rows_in
    rejected_lines = {r.source_line for r in summary.rejects}
    assert all(r.reason for r in summary.rejects) and len(rejected_lines) == summary.rejected
    with psycopg.connect(load_db.database_url) as conn:
        for item in parsed:
            if item.source_line in rejected_lines:
                continue
            assert isinstance(item, PaperRecord), f"line {item.source_line} was neither loaded nor rejected"
            stored = conn.execute("select 1 from papers where arxiv_id = %s", (item.arxiv_id,)).fetchone()
            assert stored, f"line {item.source_line} ({item.arxiv_id}) is not in papers and was not rejected"
