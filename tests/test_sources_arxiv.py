"""arXiv's own formats as files (issue 17): OAI-PMH pages in the arXiv, arXivRaw and oai_dc formats,
the API's Atom feed, and the JSON shapes people save from them; real rows of the 10k sample written
into each, then read back field by field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sample_formats import (
    LAST_TIME,
    V1_TIME,
    Sample,
    _collapsed,
    _utc,
    api_json_row,
    atom_feed,
    oai_page,
    write_lines,
)

from app.core.records import PaperRecord, Reject, SourceNotes, StructuralError
from etl.sources import detect_format, read_source
from etl.sources.taxonomy import category_code


def read(path: Path, notes: SourceNotes | None = None) -> list[PaperRecord]:
    items = list(read_source(path, notes=notes))
    rejects = [str(item) for item in items if isinstance(item, Reject)]
    assert not rejects, rejects[:5]
    return items  # type: ignore[return-value]


def same_paper(record: PaperRecord, row: dict, hyphen_initials: bool = False) -> None:
    assert record.arxiv_id == row["arxiv_id"]
    assert record.title == row["title"] and record.abstract == row["abstract"]
    assert record.categories[0] == row["primary_category"] == record.main_category
    assert sorted(record.categories) == sorted(row["categories"])
    assert record.doi == row["doi"]
    assert record.arxiv_comment == _collapsed(row["comments"])
    assert record.authors == row["authors"]


@pytest.mark.parametrize("prefix", ["arXiv", "arXivRaw", "oai_dc"])
def test_oai_pmh_pages_in_every_metadata_format(sample: Sample, tmp_path: Path, prefix: str) -> None:
    rows = sample.rows[:40]
    path = tmp_path / f"{prefix}-page-1.xml"
    path.write_text(oai_page(rows, prefix, token="6960524|1001", cursor=0, total=80), encoding="utf-8")
    assert detect_format(path) == "oai-pmh"
    records = read(path)
    assert len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        same_paper(record, row)
        if prefix == "arXivRaw":  # versions: v1 date, last date and the revision
            assert record.published == _utc(row["created"], V1_TIME)
            assert record.updated == (_utc(row["updated"], LAST_TIME) if row["updated"] else record.published)
            assert record.revision == (2 if row["updated"] else 1)
        else:
            assert record.published == _utc(row["created"])
            assert record.updated == (_utc(row["updated"]) if row["updated"] else None)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert all(lines[r.source_line - 1].startswith("<record>") for r in records)  # the line where it starts


def test_oai_pmh_deleted_records_are_skipped_and_reported(sample: Sample, tmp_path: Path) -> None:
    path = tmp_path / "page.xml.gz"
    path.write_bytes(gzip.compress(oai_page(sample.rows[:10], "arXivRaw", token="", deleted=(2, 7)).encode()))
    notes = SourceNotes()
    records = read(path, notes)
    assert [r.arxiv_id for r in records] == [r["arxiv_id"] for i, r in enumerate(sample.rows[:10]) if i not in (2, 7)]
    assert notes.lines() == [f"{path}: skipped 2 deleted record(s): oai:arXiv.org:{sample.rows[2]['arxiv_id']}, "
                             f"oai:arXiv.org:{sample.rows[7]['arxiv_id']}"]


def test_oai_dc_subjects_become_category_codes_and_unknown_names_are_reported(
    sample: Sample, tmp_path: Path
) -> None:
    assert category_code("Condensed Matter - Materials Science") == "cond-mat.mtrl-sci"
    assert category_code("quantum  physics") == "quant-ph"
    assert category_code("Statistics - Machine Learning") == "stat.ML"
    row = sample.rows[0]
    page = oai_page([row], "oai_dc").replace("</dc:title>", "</dc:title><dc:subject>Underwater Basket Weaving"
                                             "</dc:subject><dc:subject>14J60 (Primary)</dc:subject>")
    path = tmp_path / "dc.xml"
    path.write_text(page, encoding="utf-8")
    notes = SourceNotes()
    (record,) = read(path, notes)
    assert record.categories == list(dict.fromkeys([row["primary_category"], *row["categories"]]))
    assert notes.lines() == ["oai_dc subject that names no arXiv category: 'Underwater Basket Weaving'"]


def test_oai_dc_creators_are_turned_around_as_written() -> None:
    from etl.sources.oai_pmh import _oai_dc
    from etl.sources.xml_elements import Element

    dc = Element("dc", "", {}, 1, children=[Element("creator", "", {}, 1, parts=["Yuan, C. -P."]),
                                            Element("creator", "", {}, 1, parts=["Loyau, V."])])
    assert _oai_dc(dc, None, None)[1]["authors"] == ["C. -P. Yuan", "V. Loyau"]


def test_the_arxiv_api_atom_feed(sample: Sample, tmp_path: Path) -> None:
    rows = sample.rows[:30]
    path = tmp_path / "query.atom"
    path.write_text(atom_feed(rows), encoding="utf-8")
    assert detect_format(path) == "atom"
    records = read(path)
    for record, row in zip(records, rows, strict=True):
        same_paper(record, row)
        assert record.revision == (2 if row["updated"] else 1)
        assert record.published == _utc(row["created"], V1_TIME)


@pytest.mark.parametrize("shape", ["jsonl", "document", "list", "one-line-document"])
def test_json_shapes_saved_from_the_arxiv_api(sample: Sample, tmp_path: Path, shape: str) -> None:
    rows = sample.rows[:25]
    api = [api_json_row(r) for r in rows]
    path = tmp_path / f"daily.{shape}.json"
    if shape == "jsonl":
        write_lines(path, [json.dumps(r) for r in api])
    elif shape == "document":
        path.write_text(json.dumps({"query": "cat:cs.*", "total": len(api), "papers": api}, indent=2))
    elif shape == "list":
        path.write_text(json.dumps(api, indent=1))
    else:
        path.write_text(json.dumps({"entries": api}))
    assert detect_format(path) == ("jsonl" if shape == "jsonl" else "json")
    notes = SourceNotes()
    records = read(path, notes)
    assert notes.ignored_keys == {"pdf_url"}
    for record, row in zip(records, rows, strict=True):
        same_paper(record, row)
        assert record.revision == (2 if row["updated"] else 1)
        assert record.published == _utc(row["created"], V1_TIME)
        assert record.updated == _utc(row["updated"] or row["created"], LAST_TIME)
    if shape == "document":  # the line where each paper's object starts
        text = path.read_text().split("\n")
        assert all(text[r.source_line - 1].strip() == "{" for r in records)
        assert text[records[1].source_line].strip().startswith('"id": "http://arxiv.org/abs/')


def test_a_refusal_names_what_the_file_looks_like_and_the_formats(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body>Service Unavailable</body></html>\n")
    with pytest.raises(StructuralError, match=r"page.html: unknown format: XML, but neither .*'<html>.*"
                                              r"supported: .*oai-pmh"):
        detect_format(page)
    prose = tmp_path / "notes.txt"
    prose.write_text("harvest notes\nnothing here\n")
    with pytest.raises(StructuralError, match=r"looks like text starting 'harvest notes'; supported: seed-pickle"):
        detect_format(prose)
