"""Papers as citations: CSV rows and BibTeX entries, for exports of a selection.

BibTeX follows arXiv's own conventions: `@misc` with `eprint`, `archivePrefix = {arXiv}` and
`primaryClass`; `@article` with `journal` when the paper has a journal reference; a DOI when known.
Keys are `<first author's surname><year><arXiv id without punctuation>`, unique within an export.
Special characters are escaped for LaTeX; math in titles ($...$) is kept as it is.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime

CSV_FIELDS = ("arxiv_id", "title", "authors", "main_category", "categories", "published", "journal_ref",
              "doi", "url")
_LATEX_SPECIALS = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\^{}"}


def year_of(value: date | datetime | str | None) -> str:
    if value is None:
        return ""
    return str(value.year) if isinstance(value, date) else str(value)[:4]


def escape_latex(text: str) -> str:
    """Escape LaTeX specials outside $...$ math; braces are balanced or escaped."""
    parts = re.split(r"(\$[^$]*\$)", text)
    out = []
    for part in parts:
        if part.startswith("$") and part.endswith("$") and len(part) > 1:
            out.append(part)
            continue
        escaped = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in part)
        if escaped.count("{") != escaped.count("}"):
            escaped = escaped.replace("{", r"\{").replace("}", r"\}")
        out.append(escaped)
    return "".join(out)


def citation_key(paper: Mapping, taken: set[str]) -> str:
    authors = paper.get("authors") or []
    surname = authors[0].split()[-1] if authors else "anonymous"
    ascii_surname = unicodedata.normalize("NFKD", surname).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z]", "", ascii_surname) or "paper"
    key = f"{base}{year_of(paper.get('published'))}{re.sub(r'[^0-9A-Za-z]', '', paper['arxiv_id'])}"
    unique, n = key, 1
    while unique in taken:
        n += 1
        unique = f"{key}-{n}"
    taken.add(unique)
    return unique


def bibtex_entry(paper: Mapping, key: str) -> str:
    fields: list[tuple[str, str]] = [
        ("title", "{" + escape_latex(" ".join(paper["title"].split())) + "}"),
        ("author", " and ".join(escape_latex(a) for a in paper.get("authors") or [])),
        ("year", year_of(paper.get("published"))),
        ("eprint", paper["arxiv_id"]),
        ("archivePrefix", "arXiv"),
        ("primaryClass", paper.get("main_category") or ""),
        ("url", f"https://arxiv.org/abs/{paper['arxiv_id']}"),
    ]
    kind = "misc"
    if paper.get("journal_ref"):
        kind = "article"
        fields.insert(3, ("journal", escape_latex(paper["journal_ref"])))
    if paper.get("doi"):
        fields.append(("doi", paper["doi"]))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@{kind}{{{key},\n{body}\n}}\n"


def to_bibtex(papers: Iterable[Mapping]) -> str:
    taken: set[str] = set()
    return "\n".join(bibtex_entry(p, citation_key(p, taken)) for p in papers)


def to_csv(papers: Iterable[Mapping]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for paper in papers:
        writer.writerow({
            **paper,
            "authors": "; ".join(paper.get("authors") or []),
            "categories": " ".join(paper.get("categories") or []),
            "published": paper["published"].date().isoformat() if isinstance(paper.get("published"), datetime)
            else paper.get("published"),
            "url": f"https://arxiv.org/abs/{paper['arxiv_id']}",
        })
    return out.getvalue()


def provenance_lines(provenance: Mapping[str, object]) -> list[str]:
    """`key: value` lines saying where an export comes from (view id, snapshot, model, projection, query)."""
    return [f"{key}: {value}" for key, value in provenance.items() if value not in (None, "", [])]


def to_csv_with_provenance(papers: Iterable[Mapping], provenance: Mapping[str, object]) -> str:
    """The CSV of `to_csv` after `# key: value` comment lines (pandas: read_csv(..., comment="#"))."""
    header = "".join(f"# {line}\n" for line in provenance_lines(provenance))
    return header + to_csv(papers)


def to_bibtex_with_provenance(papers: Iterable[Mapping], provenance: Mapping[str, object]) -> str:
    """The BibTeX of `to_bibtex` after an @comment entry holding the provenance."""
    lines = "\n".join(f"  {line.replace('{', '(').replace('}', ')')}" for line in provenance_lines(provenance))
    return "@comment{Arxiv Atlas export\n" + lines + "\n}\n\n" + to_bibtex(papers)


def to_parquet(papers: list[Mapping], provenance: Mapping[str, object]) -> bytes:
    """The CSV's columns as Parquet, the provenance in the file's key-value metadata (`atlas.*` keys)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, list] = {name: [] for name in CSV_FIELDS}
    for paper in papers:
        for name in CSV_FIELDS:
            value = paper.get(name)
            if name == "url":
                value = f"https://arxiv.org/abs/{paper['arxiv_id']}"
            elif name == "published" and isinstance(value, datetime):
                value = value.date()
            elif name in ("authors", "categories"):
                value = list(value or [])
            columns[name].append(value)
    table = pa.table(columns)
    metadata = {f"atlas.{key}".encode(): str(value).encode() for key, value in provenance.items() if value is not None}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()
