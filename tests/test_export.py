"""Exports of a selection: BibTeX and CSV formatting (app/citations.py) and POST /api/export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from litestar.testing import TestClient

from app.api import create_app
from app.core.settings import Settings
from app.services.citations import citation_key, escape_latex, to_bibtex, to_csv

PAPER = {
    "arxiv_id": "1706.03762", "title": "Attention Is All You Need", "authors": ["Ashish Vaswani", "Noam Shazeer"],
    "main_category": "cs.CL", "categories": ["cs.CL", "cs.LG"], "published": datetime(2017, 6, 12, tzinfo=UTC),
    "journal_ref": None, "doi": None,
}


def test_bibtex_entry_follows_arxiv_conventions() -> None:
    entry = to_bibtex([PAPER])
    assert entry.startswith("@misc{vaswani2017170603762,")
    for field in ["title = {{Attention Is All You Need}}", "author = {Ashish Vaswani and Noam Shazeer}",
                  "year = {2017}", "eprint = {1706.03762}", "archivePrefix = {arXiv}", "primaryClass = {cs.CL}"]:
        assert field in entry, field
    article = to_bibtex([{**PAPER, "journal_ref": "NeurIPS 2017, 5998-6008", "doi": "10.5555/3295222"}])
    assert article.startswith("@article{") and "journal = {NeurIPS 2017, 5998-6008}" in article
    assert "doi = {10.5555/3295222}" in article


def test_latex_specials_are_escaped_but_math_is_kept() -> None:
    assert escape_latex("R&D: 50% of #1_x") == r"R\&D: 50\% of \#1\_x"
    assert escape_latex("The $\\alpha_1$ & $O(n^2)$ bound") == "The $\\alpha_1$ \\& $O(n^2)$ bound"
    assert escape_latex("an {unbalanced brace") == r"an \{unbalanced brace"


def test_citation_keys_are_unique_ascii() -> None:
    taken: set[str] = set()
    first = citation_key({**PAPER, "authors": ["Jürgen Schmidhüber"]}, taken)
    second = citation_key({**PAPER, "authors": ["Jürgen Schmidhüber"]}, taken)
    assert first == "schmidhuber2017170603762" and second == first + "-2"
    assert citation_key({**PAPER, "authors": [], "arxiv_id": "math/0501001"}, taken) == "anonymous2017math0501001"


def test_csv_has_a_header_and_one_row_per_paper_with_joined_lists() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv([PAPER, {**PAPER, "arxiv_id": "1810.04805"}]))))
    assert [r["arxiv_id"] for r in rows] == ["1706.03762", "1810.04805"]
    assert rows[0]["authors"] == "Ashish Vaswani; Noam Shazeer" and rows[0]["categories"] == "cs.CL cs.LG"
    assert rows[0]["published"] == "2017-06-12" and rows[0]["url"] == "https://arxiv.org/abs/1706.03762"


@pytest.fixture(scope="module")
def client(mapped_10k: Settings) -> Iterator[TestClient]:
    with TestClient(app=create_app(mapped_10k)) as test_client:
        yield test_client


def some_papers(settings: Settings, n: int) -> list[tuple]:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute("select id, arxiv_id, cardinality(authors) from papers order by id limit %s",
                            (n,)).fetchall()


def test_export_answers_csv_and_bibtex_downloads_of_the_papers(client: TestClient, mapped_10k: Settings) -> None:
    papers = some_papers(mapped_10k, 25)
    keys = [p[0] for p in papers]
    response = client.post("/api/export", json={"keys": keys, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="arxiv-atlas-selection.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["arxiv_id"] for r in rows) == sorted(p[1] for p in papers)
    by_id = {r["arxiv_id"]: r for r in rows}
    assert all(len(by_id[p[1]]["authors"].split("; ")) == p[2] for p in papers)  # every author, not the first 3
    bibtex = client.post("/api/export", json={"keys": keys, "format": "bibtex"})
    assert bibtex.status_code == 200 and bibtex.headers["content-type"].startswith("application/x-bibtex")
    assert bibtex.text.count("archivePrefix = {arXiv}") == 25 and bibtex.headers["x-paper-count"] == "25"


@pytest.mark.parametrize("body, status", [
    ({"keys": [], "format": "csv"}, 400),
    ({"keys": list(range(1, 5002)), "format": "csv"}, 400),
    ({"keys": [0], "format": "csv"}, 400),
    ({"keys": [1], "format": "pdf"}, 400),
    ({"keys": ["one"], "format": "csv"}, 400),
    ({"keys": [987654321], "format": "csv"}, 404),
])
def test_export_refuses_bad_requests_with_a_reason(client: TestClient, body: dict, status: int) -> None:
    response = client.post("/api/export", json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


HOSTILE = {
    "arxiv_id": "2101.00001", "published": datetime(2021, 1, 1, tzinfo=UTC), "main_category": "cs.CR",
    "categories": ["cs.CR"], "journal_ref": "J. 100% #1 & {co}",
    "title": r"=HYPERLINK(\"http://x\") \input{/etc/passwd} 50% #1 & } , note = {pwned $\write18{rm}$ {",
    "authors": ["@SUM(1+1)", r"Ev\il }{ Author", "-2+3"],
    "doi": "10.1/x}, note = {\\input{/etc/passwd}%#",
}


def test_hostile_titles_authors_and_dois_cannot_run_in_a_spreadsheet() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv([HOSTILE]))))
    row = rows[0]
    assert row["title"].startswith("'=") and row["authors"].startswith("'@")
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@")), value


def test_hostile_titles_authors_and_dois_stay_inside_their_bibtex_fields() -> None:
    entry = to_bibtex([HOSTILE])
    # No command that reads or writes files, no unescaped % or #, and braces that close every field once.
    assert r"\input" not in entry.replace(r"\textbackslash{}input", "")
    assert r"\write" not in entry.replace(r"\textbackslash{}write", "")
    assert not re.search(r"(?<!\\)[%#]", entry)
    assert "note" not in [line.split("=")[0].strip() for line in entry.splitlines()]
    depth, closed_at = 0, []
    for position, ch in enumerate(entry):
        if ch in "{}" and (position == 0 or entry[position - 1] != "\\"):
            depth += 1 if ch == "{" else -1
            assert depth >= 0
            if depth == 0:
                closed_at.append(position)
    assert depth == 0 and closed_at == [entry.rstrip().rindex("}")]  # the entry closes once, at its end
    doi = next(line for line in entry.splitlines() if line.strip().startswith("doi"))
    assert doi.strip() == "doi = {10.1/x,note=input/etc/passwd}"
