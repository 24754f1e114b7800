"""No bad value aborts a load (issue 17): every value PostgreSQL would refuse is rejected while parsing,
with file, line, field, value and reason, and the good rows of the same file load."""

from __future__ import annotations

import csv
import gzip
import json
import math
import random
import string
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_formats import Sample, write_lines

from app.core.records import PaperRecord, Reject
from app.core.settings import Settings, get_settings
from etl.load import LoadOptions, load_sources
from etl.sources.limits import INT4_MAX, MAX_INDEXED_TEXT_BYTES
from etl.sources.normalise import normalise


def distinct_words_text(megabytes: float) -> str:
    """A text of distinct made-up words, as long as asked (what makes a tsvector too long)."""
    rng = random.Random(17)
    words: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        word = "".join(rng.choices(string.ascii_lowercase, k=10))
        words.append(word)
        size += 11
    return " ".join(words)


def test_values_the_database_would_refuse_are_rejected_and_the_good_rows_load(
    db: Settings, sample: Sample, tmp_path: Path
) -> None:
    rows = [dict(r) for r in sample.rows[:12]]
    rows[1]["abstract"] = distinct_words_text(5)  # line 2: 5 MB of distinct words
    rows[2]["title"] = "Ultra\x00cold atoms in optical lattices"  # line 3: NUL, stripped
    rows[3]["revision"] = 1e12  # line 4
    rows[4]["created"] = "0001-01-01"  # line 5
    rows[6]["authors"] = ["A" * 5000]  # line 7: longer than any author key can be
    lines = [json.dumps(r) for r in rows]
    lines[5] = lines[5].replace('"title": "', '"title": "\\ud800', 1)  # line 6: a lone surrogate
    summary = load_sources(db, LoadOptions(sources=[write_lines(tmp_path / "bad.jsonl", lines)], progress=False))
    assert not summary.failed
    assert (summary.rows_in, summary.loaded, summary.rejected) == (12, 7, 5)
    with open(summary.reject_report, newline="") as handle:
        report = {row["line"]: row for row in csv.DictReader(handle)}
    assert {line: row["field"] for line, row in report.items()} == {
        "2": "abstract", "4": "revision", "5": "created", "6": "title", "7": "authors"}
    assert all(row["file"].endswith("bad.jsonl") and row["value"] and row["reason"] for row in report.values())
    assert "full-text index" in report["2"]["reason"] and len(report["2"]["value"]) < 300
    assert "integer" in report["4"]["reason"] and report["4"]["value"] == "1000000000000"
    assert "out of range" in report["5"]["reason"]
    assert "UTF-8" in report["6"]["reason"]
    with psycopg.connect(db.database_url) as conn:
        title = conn.execute("select title from papers where arxiv_id = %s", (rows[2]["arxiv_id"],)).fetchone()
    assert title == ("Ultracold atoms in optical lattices",)


def test_a_vector_with_nan_or_infinity_is_a_reject(db: Settings, sample: Sample, tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in sample.rows[:20]]
    vectors = np.array(sample.vectors[:20], dtype=np.float16)
    vectors[3, 7] = np.nan
    vectors[9, 0] = np.inf
    np.save(tmp_path / "v.npy", vectors)
    summary = load_sources(db, LoadOptions(
        sources=[write_lines(tmp_path / "p.jsonl", lines)], embeddings=tmp_path / "v.npy",
        embedding_model="text-embedding-3-large", progress=False))
    assert (summary.loaded, summary.rejected) == (18, 2)
    assert {(r.source_line, r.field) for r in summary.rejects} == {(4, "embedding"), (10, "embedding")}
    assert "row 3 of" in summary.rejects[0].value and "NaN" in summary.rejects[0].reason
    with psycopg.connect(db.database_url) as conn:
        assert conn.execute("select count(embedding) from papers").fetchone() == (18,)


# ---- property: any mix of bad values in real rows is a record the database takes, or a reject ----------
REAL_ROWS = [json.loads(line) for line, _ in zip(
    gzip.open(get_settings().shared_data_dir / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8"), range(40),
    strict=False)]
CONTROL = st.sampled_from(["\x00", "\x01", "\x07", "\x1b", "\x7f", "\ud800", "\udfff", "\u2028", "\t"])
BAD_TEXT = st.lists(st.text(max_size=5) | CONTROL, max_size=8).map("".join)
BAD_NUMBER = st.sampled_from([1e12, -1, 0, 2**31, 2**31 - 1, 2**63, 1e308, math.inf, -math.inf, math.nan, "1e12",
                              "v99999999999"]) | st.integers()
BAD_DATE = st.sampled_from(["0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01", "2199-12-31T23:59:59+14:00",
                            "0001-01-01T00:00:00-05:00", "1e12", "", "2020-02-30"])
BAD_VECTOR = st.lists(st.sampled_from([0.0, 1.0, -2.5, math.nan, math.inf, 1e30]), min_size=256, max_size=256)
LONG_TEXT = st.sampled_from([None, 200_000, 600_000]).map(lambda n: n and ("lorem ipsum " * (n // 12)))


def acceptable_to_the_database(record: PaperRecord) -> None:
    texts = [record.title, record.abstract, record.journal_ref, record.doi, record.arxiv_comment,
             record.submitter, record.report_no, record.license, record.acm_class, record.msc_class,
             *record.authors, *record.categories]
    for text in texts:
        if text is not None:
            assert "\x00" not in text and not any(ord(c) < 32 and c not in "\t\n\r" for c in text)
            text.encode("utf-8")  # raises for lone surrogates
    assert record.title and record.abstract
    for number in (record.revision, record.arxiv_year, record.arxiv_number):
        assert number is None or -(INT4_MAX + 1) <= number <= INT4_MAX
    for moment in (record.published, record.updated):
        assert moment is None or 1900 <= moment.year < 2200
    indexed = len(record.title.encode()) + len(record.abstract.encode()) + sum(len(a.encode()) for a in record.authors)
    assert indexed <= MAX_INDEXED_TEXT_BYTES
    if record.embedding is not None:
        assert np.isfinite(record.embedding).all()


@given(data=st.data())
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_bad_value_is_rejected_with_its_field_or_made_safe(data: st.DataObject) -> None:
    row: dict[str, Any] = dict(data.draw(st.sampled_from(REAL_ROWS)))
    changes = data.draw(st.fixed_dictionaries({}, optional={
        "title": BAD_TEXT, "abstract": BAD_TEXT | LONG_TEXT, "comments": BAD_TEXT,
        "authors": st.lists(BAD_TEXT | st.just("B" * 400), max_size=3), "revision": BAD_NUMBER,
        "created": BAD_DATE, "updated": BAD_DATE, "abstract_embedding": BAD_VECTOR, "doi": BAD_TEXT,
    }))
    row.update(changes)
    item = normalise("jsonl", row, "input.jsonl", 7)
    if isinstance(item, Reject):
        assert item.field != "<row>" and item.reason and item.source_line == 7, str(item)
        assert len(item.value) <= 201
    else:
        acceptable_to_the_database(item)
