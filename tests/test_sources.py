"""Source readers: real sample rows written into every format by the test, then read back field by field."""

from __future__ import annotations

import gzip
import itertools
import json
import pickle
import re
import shutil
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_formats import (
    FIRST_LINES,
    JSONL_COLUMNS,
    KAGGLE_COLUMNS,
    LAST_TIME,
    SAMPLE_FILE,
    SEED_DIM,
    V1_TIME,
    Sample,
    _collapsed,
    _id_parts,
    _mangle,
    _splittable,
    _utc,
    api_json_row,
    atom_feed,
    kaggle_csv_cells,
    kaggle_row,
    oai_page,
    seed_frame,
    write_csv,
    write_lines,
)

from app.core.records import PaperRecord, Reject, StructuralError
from etl.sources import FORMATS, detect_format, read_source
from etl.sources.normalise import normalise


def records(path: Path, fmt: str = "auto") -> list[PaperRecord | Reject]:
    return list(read_source(path, fmt))


def only_records(items: list[PaperRecord | Reject]) -> list[PaperRecord]:
    rejects = [item for item in items if isinstance(item, Reject)]
    assert not rejects, [str(r) for r in rejects[:5]]
    return [item for item in items if isinstance(item, PaperRecord)]


def check_core(record: PaperRecord, row: dict[str, Any], source: Path, line: int) -> None:
    """The fields every format carries, against the sample row they were written from."""
    assert isinstance(record, PaperRecord)
    assert (record.source_file, record.source_line) == (str(source), line)
    assert record.arxiv_id == row["arxiv_id"]
    assert (record.arxiv_year, record.arxiv_number) == _id_parts(row["arxiv_id"])
    assert record.title == row["title"]
    assert record.abstract == row["abstract"]
    # the sample spells some hyphenated initials as Kaggle's authors_parsed does ("M. -I."); records
    # rebuilt from authors_parsed spell them as arXiv writes them ("M.-I. Trappe")
    assert [a.replace(". -", ".-") for a in record.authors] == [a.replace(". -", ".-") for a in row["authors"]]
    assert record.categories == row["categories"]
    assert record.main_category == row["primary_category"]
    assert record.doi == row["doi"]
    assert record.published is not None and record.published.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["sample.jsonl", "sample.jsonl.gz"])
def test_jsonl_round_trip(sample: Sample, tmp_path: Path, name: str) -> None:
    path = write_lines(tmp_path / name, [json.dumps(r) for r in sample.rows])
    got = only_records(records(path))
    assert len(got) == len(sample.rows)
    for line, (record, row) in enumerate(zip(got, sample.rows, strict=True), start=1):
        check_core(record, row, path, line)
        assert record.published == _utc(row["created"])
        assert record.updated == (_utc(row["updated"]) if row["updated"] else None)
        assert record.arxiv_comment == _collapsed(row["comments"])
        assert record.acm_class == row["acm_class"]
        assert record.revision is None and record.embedding is None


def test_the_real_file_reads_without_surprises(sample: Sample) -> None:
    """The shipped sample itself, as is: its first rows come back as the rows they are."""
    got = list(itertools.islice(read_source(SAMPLE_FILE), FIRST_LINES))
    by_id = {row["arxiv_id"]: row for row in sample.rows}
    for line, record in enumerate(got, start=1):
        assert isinstance(record, PaperRecord) and record.source_line == line
        if record.arxiv_id in by_id:
            check_core(record, by_id[record.arxiv_id], SAMPLE_FILE, line)


@pytest.mark.parametrize("name", ["kaggle.json", "kaggle.json.gz"])
def test_kaggle_round_trip(sample: Sample, tmp_path: Path, name: str) -> None:
    fallback = {i for i, r in enumerate(sample.rows) if i % 5 == 0 and _splittable(r["authors"])}
    assert len(fallback) > 10
    lines = [json.dumps(kaggle_row(r, with_parsed=i not in fallback)) for i, r in enumerate(sample.rows)]
    path = write_lines(tmp_path / name, lines)
    got = only_records(records(path))
    for line, (record, row) in enumerate(zip(got, sample.rows, strict=True), start=1):
        check_core(record, row, path, line)
        first = _utc(row["created"], V1_TIME)
        assert record.published == first
        assert record.updated == (_utc(row["updated"], LAST_TIME) if row["updated"] else first)
        assert record.revision == (2 if row["updated"] else 1)
        assert record.arxiv_comment == _collapsed(row["comments"])
        assert record.submitter == (row["authors"][0] if row["authors"] else None)
        assert record.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
        assert record.journal_ref is None and record.report_no is None


def test_kaggle_authors_string_split() -> None:
    row = {"id": "0704.0001", "title": "T", "abstract": "A", "categories": "hep-ph",
           "authors": "C. Bal\\'azs, E. L. Berger (Argonne), P. M. Nadolsky,\n  and C.-P. Yuan and J. Doe Jr."}
    record = normalise("kaggle", row, "f", 1)
    assert isinstance(record, PaperRecord)
    assert record.authors == ["C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan", "J. Doe Jr."]
    assert record.published is None and record.updated is None  # no versions, no update_date
    parsed = normalise("kaggle", {**row, "authors_parsed": [["Yuan", "C. -P.", ""], ["Doe", "J.", "Jr", "MIT"]]},
                       "f", 1)
    assert isinstance(parsed, PaperRecord) and parsed.authors == ["C.-P. Yuan", "J. Doe Jr"]


@pytest.mark.parametrize("name", ["kaggle.csv", "kaggle.csv.gz"])
def test_kaggle_csv_repairs_float_ids(sample: Sample, tmp_path: Path, name: str) -> None:
    rows = [kaggle_row(r) for r in sample.rows]
    contradicted = dict(rows[10])  # its v1 date is a year after what its (mangled) id says
    assert "/" not in contradicted["id"]
    contradicted["versions"] = [{"version": "v1", "created": "Mon, 3 Jan 2011 10:00:00 GMT"}]
    cells = [kaggle_csv_cells(r) for r in rows[:20]] + [kaggle_csv_cells(contradicted)]
    cells += [kaggle_csv_cells(r) for r in rows[20:]]
    assert sum(c[0] != r["arxiv_id"] for c, r in zip(cells, sample.rows, strict=False)) > 100  # mangled
    path, starts = write_csv(tmp_path / name, KAGGLE_COLUMNS, cells)
    assert starts[-1] > 4 * len(cells)  # wrapped abstracts: every row spans several lines

    got = records(path)
    assert len(got) == len(cells)
    reject = got[20]
    assert isinstance(reject, Reject)
    assert (reject.source_file, reject.source_line, reject.field) == (str(path), starts[20], "id")
    assert reject.value == _mangle(contradicted["id"]) and "date mismatch" in reject.reason
    kept = got[:20] + got[21:]
    for record, row, line in zip(kept, sample.rows, starts[:20] + starts[21:], strict=True):
        check_core(record, row, path, line)
        assert record.published == _utc(row["created"], V1_TIME)


def test_jsonl_vocabulary_csv(sample: Sample, tmp_path: Path) -> None:
    """Our own columns as CSV: lists as JSON text or ";"-separated, ids mangled into floats."""
    cells = []
    for i, r in enumerate(sample.rows):
        as_json = i % 2 == 0
        cells.append([
            _mangle(r["arxiv_id"]), r["title"], r["abstract"],
            json.dumps(r["authors"]) if as_json else "; ".join(r["authors"]),
            json.dumps(r["categories"]) if not as_json else ";".join(r["categories"]),
            r["primary_category"], r["created"], r["updated"] or "", r["doi"] or "", r["comments"] or "",
            r["acm_class"] or "",
        ])
    path, starts = write_csv(tmp_path / "ours.csv", JSONL_COLUMNS, cells)
    got = only_records(records(path))
    for record, row, line in zip(got, sample.rows, starts, strict=True):
        check_core(record, row, path, line)
        assert record.updated == (_utc(row["updated"]) if row["updated"] else None)
        assert record.arxiv_comment == _collapsed(row["comments"])


@pytest.mark.parametrize("gz", [False, True])
def test_seed_pickle_round_trip(sample: Sample, tmp_path: Path, gz: bool) -> None:
    frame = seed_frame(sample)
    assert frame["published"].dtype == "datetime64[ns]" and frame["title"].dtype == object
    assert frame["abstract_embedding"][0].dtype == np.float16 and frame["abstract_embedding"][0].shape == (256,)
    assert frame["arxiv_year"].dtype == np.int32 and frame["x_umap"].dtype == np.float32
    path = tmp_path / ("seed.pkl.gz" if gz else "seed.pkl")
    frame.to_pickle(path, compression="gzip" if gz else None)

    got = only_records(records(path))
    assert len(got) == len(sample.rows)
    for line, (record, row) in enumerate(zip(got, sample.rows, strict=True), start=1):
        check_core(record, row, path, line)
        assert record.published == _utc(row["created"], (17, 15, 4))
        if line == 4:
            assert record.updated is None  # NaT
        elif row["updated"]:
            assert record.updated == _utc(row["updated"], (6, 1, 33))
        assert record.revision == (2 if row["updated"] else 1)
        assert record.arxiv_comment == _collapsed(row["comments"])  # "<NA>", None, pd.NA and NaN all became None
        assert record.journal_ref is None
        assert record.arxiv_doi == (f"10.48550/arXiv.{row['arxiv_id']}" if (line - 1) % 2 else None)
        assert record.embedding is not None and record.embedding.dtype == np.float16
        assert np.array_equal(record.embedding, sample.vectors[line - 1])
        assert record.umap_x == pytest.approx(float(frame["x_umap"][line - 1]))
        assert record.umap_y == pytest.approx(float(frame["y_umap"][line - 1]))


def test_combined_seed_without_umap(sample: Sample, tmp_path: Path) -> None:
    path = tmp_path / "combined.pkl"
    seed_frame(sample).drop(columns=["x_umap", "y_umap"]).head(5).to_pickle(path)
    got = only_records(records(path))
    assert len(got) == 5 and all(r.umap_x is None and r.umap_y is None for r in got)


def _parquet_table(sample: Sample, vocabulary: str) -> pa.Table:
    if vocabulary == "seed":
        return pa.Table.from_pandas(seed_frame(sample), preserve_index=False)  # list<halffloat> vectors
    if vocabulary == "kaggle":
        return pa.Table.from_pylist([kaggle_row(r) for r in sample.rows])
    table = pa.Table.from_pylist(sample.rows)
    flat = pa.array(np.ascontiguousarray(sample.vectors).ravel(), type=pa.float16())
    return table.append_column("abstract_embedding", pa.FixedSizeListArray.from_arrays(flat, SEED_DIM))


@pytest.mark.parametrize("vocabulary", ["seed", "jsonl", "kaggle"])
def test_parquet_round_trip(sample: Sample, tmp_path: Path, vocabulary: str) -> None:
    path = tmp_path / f"{vocabulary}.parquet"
    pq.write_table(_parquet_table(sample, vocabulary), path, row_group_size=64)
    got = only_records(records(path))
    assert len(got) == len(sample.rows)
    for line, (record, row) in enumerate(zip(got, sample.rows, strict=True), start=1):
        check_core(record, row, path, line)
        if vocabulary == "kaggle":
            assert record.published == _utc(row["created"], V1_TIME)
            assert record.embedding is None
        else:
            assert record.embedding is not None and record.embedding.dtype == np.float16
            assert np.array_equal(record.embedding, sample.vectors[line - 1])
        if vocabulary == "jsonl":
            assert record.published == _utc(row["created"])
            assert record.updated == (_utc(row["updated"]) if row["updated"] else None)


# --------------------------------------------------------------------------- detection


def test_detect_format_from_content_not_name(sample: Sample, tmp_path: Path) -> None:
    rows = sample.rows[:5]
    made = {
        "jsonl": write_lines(tmp_path / "papers.csv", [json.dumps(r) for r in rows]),
        "kaggle": write_lines(tmp_path / "papers.jsonl", [json.dumps(kaggle_row(r)) for r in rows]),
        "csv": write_csv(tmp_path / "papers.json", KAGGLE_COLUMNS, [kaggle_csv_cells(kaggle_row(r)) for r in rows])[0],
    }
    pq.write_table(_parquet_table(sample, "jsonl").slice(0, 5), tmp_path / "papers.pkl")
    made["parquet"] = tmp_path / "papers.pkl"
    seed_frame(sample).head(5).to_pickle(tmp_path / "papers.parquet")
    made["seed-pickle"] = tmp_path / "papers.parquet"
    made["json"] = tmp_path / "papers.xml"
    made["json"].write_text(json.dumps({"papers": [api_json_row(r) for r in rows]}, indent=2))
    made["oai-pmh"] = tmp_path / "papers.atom"
    made["oai-pmh"].write_text(oai_page(rows, "arXivRaw"))
    made["atom"] = tmp_path / "oai.xml"
    made["atom"].write_text(atom_feed(rows))
    for fmt, path in list(made.items()):  # and each compressible one gzipped under a name without .gz
        if fmt != "parquet":
            packed = tmp_path / f"packed-{fmt}.txt"
            packed.write_bytes(gzip.compress(path.read_bytes()))
            made[f"{fmt} (gzip)"] = packed
    assert set(FORMATS) <= set(made)
    for label, path in made.items():
        fmt = label.split(" ")[0]
        assert detect_format(path) == fmt, label
        got = only_records(records(path))
        assert [r.arxiv_id for r in got] == [r["arxiv_id"] for r in rows], label
        assert [r.title for r in only_records(records(path, fmt))] == [r["title"] for r in rows], label


def test_detection_skips_a_broken_first_line(sample: Sample, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.data", ["{not json", "", json.dumps(kaggle_row(sample.rows[0]))])
    assert detect_format(path) == "kaggle"
    got = records(path)
    assert [type(x) for x in got] == [Reject, PaperRecord]
    assert (got[0].source_line, got[1].source_line) == (1, 3)


# --------------------------------------------------------------------------- rejects


def test_rejects_carry_file_line_and_field(sample: Sample, tmp_path: Path) -> None:
    good = [json.dumps(r) for r in sample.rows[:12]]
    r = sample.rows[12]
    lines = good[:6] + [
        '{"arxiv_id": "0801.0001", "title": "broken',  # line 7: invalid JSON
        "",  # line 8: blank, skipped
        json.dumps({**r, "title": "  \n "}),  # 9
        json.dumps({**r, "abstract": None}),  # 10
        json.dumps({**r, "categories": ["cs.AI", "Not A Category!"]}),  # 11
        json.dumps({**r, "created": "2008-13-45"}),  # 12
        json.dumps({k: v for k, v in r.items() if k != "arxiv_id"}),  # 13
        json.dumps({**r, "arxiv_id": "not-an-id"}),  # 14
        json.dumps({**r, "primary_category": None, "categories": []}),  # 15
        "[1, 2, 3]",  # 16: JSON, but not an object
        json.dumps({**r, "updated": "yesterday"}),  # 17
        json.dumps({**r, "authors": {"a": 1}}),  # 18
        json.dumps({**r, "title": "x" * 5000}),  # 19: fine, just long
    ] + good[6:]
    path = write_lines(tmp_path / "bad.jsonl", lines)
    got = records(path)
    rejects = {x.source_line: x for x in got if isinstance(x, Reject)}
    expected = {7: "<line>", 9: "title", 10: "abstract", 11: "categories", 12: "created", 13: "arxiv_id",
                14: "arxiv_id", 15: "primary_category", 16: "<line>", 17: "updated", 18: "authors"}
    assert {line: x.field for line, x in rejects.items()} == expected
    assert all(x.source_file == str(path) and x.reason for x in rejects.values())
    assert rejects[11].value == "Not A Category!"
    assert "invalid JSON" in rejects[7].reason and rejects[7].value.startswith('{"arxiv_id": "0801.0001"')
    kept = [x for x in got if isinstance(x, PaperRecord)]
    assert [x.source_line for x in kept] == [1, 2, 3, 4, 5, 6, 19, 20, 21, 22, 23, 24, 25]
    assert len(got) == len(lines) - 1  # one per non-blank line, nothing dropped


def test_long_values_are_truncated_in_rejects() -> None:
    reject = normalise("jsonl", {"arxiv_id": "x" * 1000, "title": "t", "abstract": "a",
                                 "primary_category": "cs.AI"}, "f", 3)
    assert isinstance(reject, Reject) and reject.field == "arxiv_id"
    assert 200 <= len(reject.value) <= 210


def test_csv_line_numbers_after_multiline_cells(tmp_path: Path) -> None:
    header = "arxiv_id,title,abstract,authors,categories,primary_category,created\r\n"
    body = (
        '0704.0001,First,"An abstract\r\nover three\r\nlines",A. One,hep-ph,hep-ph,2007-04-02\r\n'  # 2-4
        '0704.0002,Second,"Plain abstract",B. Two,"math.NT; math.CO",math.NT,2007-04-01\r\n'  # 5
        "\r\n"  # 6: blank
        '0704.0003,Third,"Two\nlines",C. Three,"cs.AI","cs.AI",2007-04-03\r\n'  # 7-8
        '0704.0004,Fourth,Abstract,D. Four,BAD CATEGORY,hep-th,2007-04-04\r\n'  # 9: bad category
        '0704.0005,Fifth,Abstract\r\n'  # 10: too few fields
        '704.0006,Sixth,"Multi\r\n\r\nline",E. Five,hep-th,hep-th,2007-04-04\r\n'  # 11-13, mangled id
        '704.0007,Seventh,Abstract,F. Six,hep-th,hep-th,\r\n'  # 14: mangled id without a date
    )
    path = tmp_path / "ours.csv"
    path.write_bytes((header + body).encode())
    got = records(path)
    assert [(type(x).__name__, x.source_line) for x in got] == [
        ("PaperRecord", 2), ("PaperRecord", 5), ("PaperRecord", 7), ("Reject", 9), ("Reject", 10),
        ("PaperRecord", 11), ("Reject", 14),
    ]
    assert got[0].abstract == "An abstract over three lines" and got[1].categories == ["math.NT", "math.CO"]
    assert (got[3].field, got[3].value) == ("categories", "BAD")
    assert got[4].field == "<line>" and "expected 7 fields" in got[4].reason
    assert got[5].arxiv_id == "0704.0006"
    assert got[6].field == "arxiv_id" and "no v1 date" in got[6].reason


def test_csv_invalid_utf8_is_a_reject(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"arxiv_id,title,abstract,primary_category\n0704.0001,T\xff\xfe,A,cs.AI\n"
                     b"0704.0002,T,A,cs.AI\n")
    got = records(path)
    assert isinstance(got[0], Reject) and got[0].source_line == 2 and "UTF-8" in got[0].reason
    assert isinstance(got[1], PaperRecord) and got[1].source_line == 3


def test_invalid_utf8_json_line_is_a_reject(sample: Sample, tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    good = json.dumps(sample.rows[0]).encode()
    path.write_bytes(good + b"\n" + b'{"arxiv_id": "\xff"}\n' + good + b"\n")
    got = records(path)
    assert [type(x) for x in got] == [PaperRecord, Reject, PaperRecord]
    assert got[1].source_line == 2 and got[1].field == "<line>"


# --------------------------------------------------------------------------- normaliser details


def test_normaliser_cleans_values() -> None:
    row = {
        "arxiv_id": " arXiv:0704.0001v3 ", "title": "  A\n  wrapped\ttitle ", "abstract": "Some\u00a0text\r\n here",
        "primary_category": "hep-ph", "categories": "hep-ph  hep-th; hep-ph", "created": "2007-04-02T19:18:42+02:00",
        "updated": pd.Timestamp("2008-01-01 10:00"), "doi": "<NA>", "comments": "NaN", "acm_class": "  ",
        "authors": "A. One;  B.\n Two ;", "journal_ref": "J. Phys. A 40 (2007)",
    }
    record = normalise("jsonl", row, "f", 1)
    assert isinstance(record, PaperRecord)
    assert (record.arxiv_id, record.revision, record.arxiv_year, record.arxiv_number) == ("0704.0001", 3, 704, 1)
    assert record.title == "A wrapped title" and record.abstract == "Some text here"
    assert record.categories == ["hep-ph", "hep-th"]
    assert record.published == datetime(2007, 4, 2, 17, 18, 42, tzinfo=UTC)  # converted to UTC
    assert record.updated == datetime(2008, 1, 1, 10, tzinfo=UTC)  # naive -> UTC
    assert record.doi is None and record.arxiv_comment is None and record.acm_class is None
    assert record.authors == ["A. One", "B. Two"] and record.journal_ref == "J. Phys. A 40 (2007)"


def test_main_category_missing_from_categories_is_added() -> None:
    record = normalise("jsonl", {"arxiv_id": "0704.0001", "title": "t", "abstract": "a",
                                 "primary_category": "hep-ph", "categories": ["hep-th"]}, "f", 1)
    assert isinstance(record, PaperRecord) and record.categories == ["hep-ph", "hep-th"]
    record = normalise("jsonl", {"arxiv_id": "0704.0001", "title": "t", "abstract": "a",
                                 "categories": ["hep-th", "math.GT"]}, "f", 1)
    assert isinstance(record, PaperRecord) and record.main_category == "hep-th"


def test_other_time_zones_and_formats() -> None:
    tz = timezone(timedelta(hours=-5))
    for value, expected in [
        (datetime(2007, 4, 2, 12, tzinfo=tz), datetime(2007, 4, 2, 17, tzinfo=UTC)),
        ("Mon, 2 Apr 2007 19:18:42 GMT", datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        ("Mon, 2 Apr 2007 14:18:42 -0500", datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        ("2007-04-02 19:18:42", datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        (np.datetime64("2007-04-02T01:02:03"), datetime(2007, 4, 2, 1, 2, 3, tzinfo=UTC)),
    ]:
        record = normalise("seed", {"arxiv_id": "0704.0001", "title": "t", "abstract": "a",
                                    "main_category": "hep-ph", "published": value}, "f", 1)
        assert isinstance(record, PaperRecord) and record.published == expected, value


# --------------------------------------------------------------------------- structural errors


def _structural_cases(sample: Sample, tmp: Path) -> dict[str, tuple[Path, str]]:
    frame = seed_frame(sample).head(10)
    cases: dict[str, tuple[Path, str]] = {}

    wide = frame.copy()
    wide.at[6, "abstract_embedding"] = np.zeros(384, dtype=np.float16)
    wide.to_pickle(tmp / "wide.pkl")
    cases["embedding width"] = (tmp / "wide.pkl", "row 7: abstract_embedding has shape")

    with open(tmp / "dict.pkl", "wb") as f:
        pickle.dump({"title": ["x"]}, f)
    cases["pickle not a frame"] = (tmp / "dict.pkl", "not a pandas DataFrame")

    frame.drop(columns=["abstract"]).to_pickle(tmp / "cols.pkl")
    cases["pickle missing column"] = (tmp / "cols.pkl", "lacks columns ['abstract']")

    (tmp / "cut.pkl").write_bytes(pickle.dumps(frame)[:500])
    cases["truncated pickle"] = (tmp / "cut.pkl", "not a readable pickle")

    write_csv(tmp / "nocols.csv", ("id", "title", "categories"), [["0704.0001", "t", "hep-ph"]])
    cases["csv missing column"] = (tmp / "nocols.csv", "lacks required columns ['abstract']")

    write_lines(tmp / "plain.jsonl", [json.dumps(sample.rows[0])])
    shutil.copy(tmp / "plain.jsonl", tmp / "fake.jsonl.gz")
    cases["not gzip though .gz"] = (tmp / "fake.jsonl.gz", "named .gz but not gzip")

    (tmp / "badgz.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00garbage that is not deflate")
    cases["corrupt gzip"] = (tmp / "badgz.jsonl.gz", "corrupt gzip")

    cases["not found"] = (tmp / "missing.jsonl", "file not found")
    (tmp / "empty.jsonl").write_bytes(b"")
    cases["empty"] = (tmp / "empty.jsonl", "empty file")
    (tmp / "prose.txt").write_text("Dear reader,\nthis is not a data file.\n")
    cases["unknown content"] = (tmp / "prose.txt", "unknown format")
    write_lines(tmp / "odd.jsonl", [json.dumps({"name": 1, "value": 2})])
    cases["json without our keys"] = (tmp / "odd.jsonl", "neither arXiv metadata keys")

    ragged = _parquet_table(sample, "seed").slice(0, 10)
    vectors = [list(v) for v in frame["abstract_embedding"]]
    vectors[3] = vectors[3][:100]
    ragged = ragged.set_column(ragged.schema.get_field_index("abstract_embedding"), "abstract_embedding",
                               pa.array(vectors, type=pa.list_(pa.float16())))
    pq.write_table(ragged, tmp / "ragged.parquet")
    cases["parquet ragged vectors"] = (tmp / "ragged.parquet", "different widths")

    pq.write_table(pa.Table.from_pylist([{"arxiv_id": "0704.0001", "title": "t"}]), tmp / "few.parquet")
    cases["parquet missing columns"] = (tmp / "few.parquet", "lacks required columns")
    return cases


def test_structural_errors_are_raised_before_any_row(sample: Sample, tmp_path: Path) -> None:
    for label, (path, message) in _structural_cases(sample, tmp_path).items():
        with pytest.raises(StructuralError, match=re.escape(message)):
            read_source(path)  # not iterated: the error must come from opening/inspecting
        if path.exists() and "gzip" not in label and label not in ("empty", "unknown content"):
            fmt = "parquet" if path.suffix == ".parquet" else "seed-pickle" if path.suffix == ".pkl" else None
            if fmt is not None:  # forcing the format gives the same error
                with pytest.raises(StructuralError, match=re.escape(message)):
                    read_source(path, fmt)


def test_forcing_the_wrong_format_is_structural(sample: Sample, tmp_path: Path) -> None:
    kaggle = write_lines(tmp_path / "k.jsonl", [json.dumps(kaggle_row(r)) for r in sample.rows[:3]])
    with pytest.raises(StructuralError, match="does not look like jsonl"):
        read_source(kaggle, "jsonl")
    with pytest.raises(StructuralError, match="not a readable parquet"):
        read_source(kaggle, "parquet")
    with pytest.raises(StructuralError, match="not a readable pickle"):
        read_source(kaggle, "seed-pickle")
    with pytest.raises(StructuralError, match="neither an 'id' nor an 'arxiv_id'"):
        read_source(kaggle, "csv")
    with pytest.raises(ValueError, match="unknown source format"):
        read_source(kaggle, "xml")


def test_truncated_gzip_fails_when_reached(sample: Sample, tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in sample.rows] * 12  # > 2 MiB: more than detection looks at
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    stream = read_source(path)  # the start is fine: the damage is only found when reached
    seen = 0
    with pytest.raises(StructuralError, match="truncated gzip"):
        for _ in stream:
            seen += 1
    assert 0 < seen < len(lines)
    small = tmp_path / "small.jsonl.gz"
    small.write_bytes(gzip.compress(("\n".join(lines[:5]) + "\n").encode())[:-12])
    with pytest.raises(StructuralError, match="gzip"):
        read_source(small)  # a small file is damaged within what detection reads: found at once


# --------------------------------------------------------------------------- properties

_KEYS = sorted(set(JSONL_COLUMNS) | set(KAGGLE_COLUMNS) | {"abstract_embedding", "revision", "msc-class"})
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_TEXT_LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=60)


@st.composite
def _json_lines(draw: st.DrawFn, template: dict[str, Any]) -> list[str]:
    """Lines: random objects over our keys, real rows with fields replaced, and arbitrary text."""
    objects = st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=6), _VALUES, max_size=10)
    mutated = st.dictionaries(st.sampled_from(sorted(template)), _VALUES, min_size=1, max_size=4).map(
        lambda change: {**template, **change}
    )
    line = st.one_of(objects.map(json.dumps), mutated.map(json.dumps), _TEXT_LINE,
                     st.just(json.dumps(template)), _VALUES.map(json.dumps))
    return draw(st.lists(line, min_size=1, max_size=15))


def _check_every_line_answered(vocabulary: str, first: dict[str, Any], lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_lines(Path(tmp) / "x.data", [json.dumps(first), *lines])
        got = list(read_source(path, vocabulary))
    expected_lines = [1] + [i for i, line in enumerate(lines, start=2) if line.strip()]
    assert [x.source_line for x in got] == expected_lines
    for item in got:
        assert isinstance(item, PaperRecord | Reject)
        if isinstance(item, Reject):
            assert item.field != "<row>", str(item)  # every reject is a deliberate one
            assert len(item.value) <= 201 + 1


_JSONL_TEMPLATE = {"arxiv_id": "0705.1986", "title": "On X", "abstract": "We show.", "authors": ["A. B"],
                   "categories": ["cs.DS"], "primary_category": "cs.DS", "created": "2007-05-14",
                   "updated": None, "doi": None, "comments": "10 pages", "acm_class": None}
_KAGGLE_TEMPLATE = {"id": "0704.0001", "submitter": "P. Nadolsky", "authors": "C. Bal\\'azs and C.-P. Yuan",
                    "title": "Calculation\n of X", "comments": "37 pages", "journal-ref": None, "doi": None,
                    "report-no": None, "categories": "hep-ph", "license": None, "abstract": "  A study.\n",
                    "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
                                 {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}],
                    "update_date": "2008-11-13", "authors_parsed": [["Balázs", "C.", ""], ["Yuan", "C. -P.", ""]]}


@given(_json_lines(_JSONL_TEMPLATE))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_jsonl_reader_answers_every_line(lines: list[str]) -> None:
    _check_every_line_answered("jsonl", _JSONL_TEMPLATE, lines)


@given(_json_lines(_KAGGLE_TEMPLATE))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_kaggle_reader_answers_every_line(lines: list[str]) -> None:
    _check_every_line_answered("kaggle", _KAGGLE_TEMPLATE, lines)


def test_templates_are_valid_rows() -> None:
    """The property tests' first lines really are records (so a reject there would be a bug)."""
    assert isinstance(normalise("jsonl", dict(_JSONL_TEMPLATE), "f", 1), PaperRecord)
    record = normalise("kaggle", dict(_KAGGLE_TEMPLATE), "f", 1)
    assert isinstance(record, PaperRecord) and record.authors == ["C. Balázs", "C.-P. Yuan"]  # as written, not "C. -P."
    assert record.revision == 2 and record.updated == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
