"""Real rows of the 10k sample written into every source format (seed pickle, Kaggle JSON/CSV, ...).

Shared by the reader tests and the loader tests, so both check the same real rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.core.settings import get_settings

SHARED = get_settings().shared_data_dir
SAMPLE_FILE = SHARED / "arxiv-10k.jsonl.gz"
VECTORS_FILE = SHARED / "arxiv-10k.all-MiniLM-L6-v2.f16.npy"
FIRST_LINES = 200
SEED_DIM = 256

KAGGLE_COLUMNS = ("id", "submitter", "authors", "title", "comments", "journal-ref", "doi", "report-no",
                  "categories", "license", "abstract", "versions", "update_date", "authors_parsed")
JSONL_COLUMNS = ("arxiv_id", "title", "abstract", "authors", "categories", "primary_category", "created",
                 "updated", "doi", "comments", "acm_class")
V1_TIME = (19, 18, 42)  # Kaggle's versions carry a time of day; our sample has only dates
LAST_TIME = (8, 0, 5)


# --------------------------------------------------------------------------- the sample


@dataclass
class Sample:
    rows: list[dict[str, Any]]  # lines of arxiv-10k.jsonl.gz, as parsed JSON
    vectors: np.ndarray  # float16 (n, 256): the first 256 dims of their rows in the .npy


def _id_month(arxiv_id: str) -> tuple[int, int]:
    digits = arxiv_id.split("/")[-1]
    yy, mm = int(digits[:2]), int(digits[2:4])
    return (1900 + yy if yy > 90 else 2000 + yy), mm


def _confirmed_by_date(row: dict[str, Any]) -> bool:
    """New-style ids whose v1 date is the id's month or the month before (what a repair can prove)."""
    if "/" in row["arxiv_id"]:
        return True
    year, month = _id_month(row["arxiv_id"])
    before = (year, month - 1) if month > 1 else (year - 1, 12)
    created = (int(row["created"][:4]), int(row["created"][5:7]))
    return created in ((year, month), before)


def load_sample() -> Sample:
    """The first 200 lines of the 10k sample, plus its first old-style and 5-digit ids for variety."""
    picked: list[tuple[int, dict[str, Any]]] = []
    old_style = five_digit = 0
    with gzip.open(SAMPLE_FILE, "rt", encoding="utf-8") as f:
        for index, line in enumerate(f):
            row = json.loads(line)
            arxiv_id = row["arxiv_id"]
            is_old, is_five = "/" in arxiv_id, re.fullmatch(r"\d{4}\.\d{5}", arxiv_id) is not None
            wanted = index < FIRST_LINES or (is_old and old_style < 8) or (is_five and five_digit < 8)
            if wanted and _confirmed_by_date(row):
                picked.append((index, row))
                old_style += is_old and index >= FIRST_LINES
                five_digit += is_five and index >= FIRST_LINES
            if index >= FIRST_LINES and old_style >= 8 and five_digit >= 8:
                break
    indexes = [index for index, _ in picked]
    vectors = np.load(VECTORS_FILE, mmap_mode="r")[indexes, :SEED_DIM].astype(np.float16)
    assert len(picked) >= 200 and old_style == 8 and five_digit == 8
    return Sample([row for _, row in picked], vectors)


def _utc(day: str, hms: tuple[int, int, int] = (0, 0, 0)) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hms[0], minute=hms[1], second=hms[2], tzinfo=UTC)


def _id_parts(arxiv_id: str) -> tuple[int, int]:
    if "/" in arxiv_id:
        digits = arxiv_id.split("/")[1]
        return int(digits[:4]), int(digits[4:])
    yymm, number = arxiv_id.split(".")
    return int(yymm), int(number)


def _collapsed(text: str | None) -> str | None:
    """Comments keep their hard line breaks in the sample; records have whitespace runs collapsed."""
    return None if text is None else " ".join(text.split())


def _mangle(arxiv_id: str) -> str:
    """What a spreadsheet keeps of a new-style id: a float ("0704.0010" -> "704.001")."""
    return arxiv_id if "/" in arxiv_id else str(float(arxiv_id))


def _wrap(text: str) -> str:
    """Kaggle-style hard-wrapped text (newlines, indentation) that collapses back to `text`."""
    return "  " + "\n  ".join(textwrap.wrap(text, 60, break_on_hyphens=False, break_long_words=False)) + "\n"


def _author_string(names: list[str]) -> str:
    return names[0] if len(names) < 2 else ", ".join(names[:-1]) + " and " + names[-1]


def _splittable(names: list[str]) -> bool:
    return all("," not in n and " and " not in n and "(" not in n for n in names)


def kaggle_row(row: dict[str, Any], with_parsed: bool = True) -> dict[str, Any]:
    """A sample row in Kaggle's vocabulary (authors string, authors_parsed, RFC 2822 versions)."""
    versions = [{"version": "v1", "created": format_datetime(_utc(row["created"], V1_TIME), usegmt=True)}]
    if row["updated"]:
        versions.append({"version": "v2", "created": format_datetime(_utc(row["updated"], LAST_TIME), usegmt=True)})
    names = row["authors"]
    out = {
        "id": row["arxiv_id"], "submitter": names[0] if names else None, "authors": _author_string(names),
        "title": _wrap(row["title"]), "comments": row["comments"], "journal-ref": None, "doi": row["doi"],
        "report-no": None, "categories": " ".join(row["categories"]),
        "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/", "abstract": _wrap(row["abstract"]),
        "versions": versions, "update_date": row["updated"] or row["created"],
        "authors_parsed": [[n.rsplit(" ", 1)[-1], n.rsplit(" ", 1)[0] if " " in n else "", ""] for n in names],
    }
    if not with_parsed:
        del out["authors_parsed"]
    return out


def seed_frame(sample: Sample) -> pd.DataFrame:
    """The sample as the seed's pickle holds it: its 18 columns with their exact dtypes."""
    rows = sample.rows
    missing = ["<NA>", None, pd.NA, float("nan")]  # every spelling of "no value" a pickle may hold

    def text_or_na(value: str | None, i: int) -> Any:
        return value if value is not None else missing[i % len(missing)]

    published = [_utc(r["created"], (17, 15, 4)).replace(tzinfo=None) for r in rows]
    updated = [_utc(r["updated"], (6, 1, 33)).replace(tzinfo=None) if r["updated"] else p
               for r, p in zip(rows, published, strict=True)]
    updated[3] = None  # NaT
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "title": pd.Series([r["title"] for r in rows], dtype=object),
        "arxiv_id": pd.Series([r["arxiv_id"] for r in rows], dtype=object),
        "abstract": pd.Series([r["abstract"] for r in rows], dtype=object),
        "main_category": pd.Series([r["primary_category"] for r in rows], dtype=object),
        "categories": pd.Series([list(r["categories"]) for r in rows], dtype=object),
        "revision": pd.Series(["2" if r["updated"] else "1" for r in rows], dtype=object),
        "published": pd.Series(published, dtype="datetime64[ns]"),
        "updated": pd.Series(updated, dtype="datetime64[ns]"),
        "authors": pd.Series([list(r["authors"]) for r in rows], dtype=object),
        "journal_ref": pd.Series(["<NA>"] * len(rows), dtype=object),
        "doi": pd.Series([text_or_na(r["doi"], i) for i, r in enumerate(rows)], dtype=object),
        "arxiv_comment": pd.Series([text_or_na(r["comments"], i) for i, r in enumerate(rows)], dtype=object),
        "arxiv_DOI": pd.Series([f"10.48550/arXiv.{r['arxiv_id']}" if i % 2 else "<NA>"
                                for i, r in enumerate(rows)], dtype=object),
        "abstract_embedding": pd.Series(list(sample.vectors), dtype=object),
        "arxiv_year": pd.Series([_id_parts(r["arxiv_id"])[0] for r in rows], dtype=np.int32),
        "arxiv_number": pd.Series([_id_parts(r["arxiv_id"])[1] for r in rows], dtype=np.int32),
        "x_umap": pd.Series(rng.normal(size=len(rows)), dtype=np.float32),
        "y_umap": pd.Series(rng.normal(size=len(rows)), dtype=np.float32),
    })


def write_lines(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_csv(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> tuple[Path, list[int]]:
    """Write a CSV (\\r\\n rows, multi-line quoted cells); return the line where each row starts."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    starts = []
    for row in rows:
        starts.append(buffer.getvalue().count("\n") + 1)
        writer.writerow(row)
    data = buffer.getvalue().encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path, starts


def kaggle_csv_cells(row: dict[str, Any]) -> list[str]:
    cells = []
    for column in KAGGLE_COLUMNS:
        value = row.get(column)
        if column == "id":
            value = _mangle(value)
        cells.append("" if value is None else value if isinstance(value, str) else json.dumps(value))
    return cells


# --------------------------------------------------------------------------- arXiv's harvesting formats

OAI_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
            '<responseDate>2020-01-02T10:00:00Z</responseDate>\n'
            '<request verb="ListRecords" metadataPrefix="{prefix}">https://oaipmh.arxiv.org/oai</request>\n'
            '<ListRecords>\n')


def _x(text: str | None) -> str:
    from xml.sax.saxutils import escape

    return escape(text or "")


def _rfc2822(day: str, hms: tuple[int, int, int]) -> str:
    return format_datetime(_utc(day, hms), usegmt=True)


def subject_names() -> dict[str, str]:
    """Category code -> its oai_dc subject name (from the project's taxonomy)."""
    from etl.sources.taxonomy import category_codes_by_name

    names = {}
    for name, code in category_codes_by_name().items():
        names.setdefault(code, name)
    return names


def oai_record(row: dict[str, Any], prefix: str, deleted: bool = False) -> str:
    """One OAI-PMH <record> of a sample row in the `arXiv`, `arXivRaw` or `oai_dc` metadata format."""
    arxiv_id = row["arxiv_id"]
    datestamp = row["updated"] or row["created"]
    sets = " ".join(f"<setSpec>{c.split('.')[0]}</setSpec>" for c in row["categories"][:1])
    if deleted:
        return (f'<record><header status="deleted"><identifier>oai:arXiv.org:{arxiv_id}</identifier>'
                f'<datestamp>{datestamp}</datestamp>{sets}</header></record>\n')
    header = (f"<header><identifier>oai:arXiv.org:{arxiv_id}</identifier><datestamp>{datestamp}</datestamp>"
              f"{sets}</header>")
    categories = " ".join([row["primary_category"]] + [c for c in row["categories"] if c != row["primary_category"]])
    optional = "".join(f"<{tag}>{_x(row[key])}</{tag}>" for tag, key in (("comments", "comments"), ("doi", "doi"),
                                                                         ("acm-class", "acm_class")) if row[key])
    if prefix == "arXiv":
        authors = "".join(
            f"<author><keyname>{_x(n.rsplit(' ', 1)[-1])}</keyname>"
            + (f"<forenames>{_x(n.rsplit(' ', 1)[0])}</forenames>" if " " in n else "") + "</author>"
            for n in row["authors"])
        updated = f"<updated>{row['updated']}</updated>" if row["updated"] else ""
        body = (f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{arxiv_id}</id><created>{row["created"]}</created>'
                f"{updated}<authors>{authors}</authors><title>{_x(_wrap(row['title']))}</title>"
                f"<categories>{categories}</categories>{optional}"
                f"<license>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</license>"
                f"<abstract>{_x(_wrap(row['abstract']))}</abstract></arXiv>")
    elif prefix == "arXivRaw":
        versions = f'<version version="v1"><date>{_rfc2822(row["created"], V1_TIME)}</date><size>12kb</size></version>'
        if row["updated"]:
            versions += f'<version version="v2"><date>{_rfc2822(row["updated"], LAST_TIME)}</date></version>'
        body = (f'<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{arxiv_id}</id>'
                f"<submitter>{_x(row['authors'][0] if row['authors'] else '')}</submitter>{versions}"
                f"<title>{_x(_wrap(row['title']))}</title><authors>{_x(_author_string(row['authors']))}</authors>"
                f"<categories>{categories}</categories>{optional}<abstract>{_x(_wrap(row['abstract']))}</abstract>"
                "</arXivRaw>")
    else:
        names = subject_names()
        creators = "".join(
            f"<dc:creator>{_x(n.rsplit(' ', 1)[-1] + ', ' + n.rsplit(' ', 1)[0] if ' ' in n else n)}</dc:creator>"
            for n in row["authors"])
        subjects = "".join(f"<dc:subject>{_x(names[c].title() if c in names else c)}</dc:subject>"
                           for c in categories.split())
        comment = f"<dc:description>Comment: {_x(row['comments'])}</dc:description>" if row["comments"] else ""
        dates = f"<dc:date>{row['created']}</dc:date>"
        dates += f"<dc:date>{row['updated']}</dc:date>" if row["updated"] else ""
        doi = f"<dc:identifier>doi:{_x(row['doi'])}</dc:identifier>" if row["doi"] else ""
        body = ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:title>{_x(row['title'])}</dc:title>{creators}{subjects}"
                f"<dc:description>{_x(row['abstract'])}</dc:description>{comment}{dates}<dc:type>text</dc:type>"
                f"<dc:identifier>http://arxiv.org/abs/{arxiv_id}</dc:identifier>{doi}</oai_dc:dc>")
    return f"<record>{header}<metadata>{body}</metadata></record>\n"


def oai_page(rows: list[dict[str, Any]], prefix: str, token: str | None = None, cursor: int = 0,
             total: int | None = None, deleted: tuple[int, ...] = ()) -> str:
    """A ListRecords response page; `token`: the resumption token of the next page ("" on the last page)."""
    records = "".join(oai_record(r, prefix, deleted=i in deleted) for i, r in enumerate(rows))
    resumption = ""
    if token is not None:
        size = f' completeListSize="{total}"' if total is not None else ""
        resumption = f'<resumptionToken cursor="{cursor}"{size}>{token}</resumptionToken>\n'
    return OAI_HEAD.format(prefix=prefix) + records + resumption + "</ListRecords>\n</OAI-PMH>\n"


def atom_feed(rows: list[dict[str, Any]]) -> str:
    """The arXiv API's Atom feed of sample rows (ids with their version, as the API gives them)."""
    entries = []
    for row in rows:
        version = 2 if row["updated"] else 1
        authors = "".join(f"<author><name>{_x(n)}</name></author>" for n in row["authors"])
        categories = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
                             for c in row["categories"])
        extra = (f"<arxiv:comment>{_x(row['comments'])}</arxiv:comment>" if row["comments"] else "") + (
            f"<arxiv:doi>{_x(row['doi'])}</arxiv:doi>" if row["doi"] else "")
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{row['arxiv_id']}v{version}</id>"
            f"<updated>{row['updated'] or row['created']}T08:00:05Z</updated>"
            f"<published>{row['created']}T19:18:42Z</published><title>{_x(_wrap(row['title']))}</title>"
            f"<summary>{_x(_wrap(row['abstract']))}</summary>{authors}{extra}"
            f'<link href="http://arxiv.org/abs/{row["arxiv_id"]}v{version}" rel="alternate" type="text/html"/>'
            f'<arxiv:primary_category term="{row["primary_category"]}" scheme="http://arxiv.org/schemas/atom"/>'
            f"{categories}</entry>\n")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:arxiv="http://arxiv.org/schemas/atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">\n'
            '<title type="html">ArXiv Query: search_query=all</title>\n'
            f"<opensearch:totalResults>{len(rows)}</opensearch:totalResults>\n" + "".join(entries) + "</feed>\n")


def api_json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A sample row as people save arXiv API results in JSON (summary, published, comment, versioned ids)."""
    version = 2 if row["updated"] else 1
    return {
        "id": f"http://arxiv.org/abs/{row['arxiv_id']}v{version}", "title": row["title"],
        "summary": row["abstract"], "authors": [{"name": n} for n in row["authors"]],
        "published": f"{row['created']}T19:18:42Z", "updated": f"{row['updated'] or row['created']}T08:00:05Z",
        "comment": row["comments"], "journal_ref": None, "doi": row["doi"],
        "primary_category": row["primary_category"], "categories": row["categories"],
        "pdf_url": f"http://arxiv.org/pdf/{row['arxiv_id']}v{version}",
    }
