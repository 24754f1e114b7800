"""Papers as citations: CSV rows and BibTeX entries, for exports of a selection.

BibTeX follows arXiv's own conventions: `@misc` with `eprint`, `archivePrefix = {arXiv}` and
`primaryClass`; `@article` with `journal` when the paper has a journal reference; a DOI when known.
Keys are `<first author's surname><year><arXiv id without punctuation>`, unique within an export.
Special characters (backslashes, braces, %, #, &) are escaped for LaTeX; math in titles ($...$) is
kept, less the commands that reach files or redefine TeX. CSV cells that a spreadsheet would run as
a formula (=, +, -, @ first) get a leading apostrophe.
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
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_",
                   "~": r"\textasciitilde{}", "^": r"\^{}"}


def year_of(value: date | datetime | str | None) -> str:
    if value is None:
        return ""
    return str(value.year) if isinstance(value, date) else str(value)[:4]


# Commands that read or write files, or redefine TeX, are never let through, not even in math.
_DANGEROUS_COMMANDS = re.compile(
    r"\\(input|include|InputIfFileExists|write|immediate|openin|openout|read|readline|def|edef|gdef|xdef|let|"
    r"catcode|csname|endcsname|newcommand|renewcommand|providecommand|usepackage|special|expandafter|jobname|"
    r"directlua|lowercase|uppercase|scantokens|output|everypar|everymath|loop|newwrite|newread)(?![A-Za-z])"
)


def _nests(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def escape_latex(text: str) -> str:
    """Escape LaTeX specials (backslashes included) outside $...$ math; in math keep the commands but
    not those that reach files or redefine TeX, nor %, #; braces must nest, else all are escaped."""
    parts = re.split(r"(\$[^$]*\$)", text)
    out = []
    for part in parts:
        if part.startswith("$") and part.endswith("$") and len(part) > 1:
            math = _DANGEROUS_COMMANDS.sub(r"\\textbackslash{}\1", part)
            out.append(math.replace("%", r"\%").replace("#", r"\#").replace("&", r"\&"))
            continue
        out.append("".join(_LATEX_SPECIALS.get(ch, ch) for ch in part))
    escaped = "".join(out)
    if not _nests(escaped.replace(r"\{", "").replace(r"\}", "")):
        escaped = re.sub(r"(?<!\\)([{}])", r"\\\1", escaped)
    return escaped


def verbatim_field(value: str) -> str:
    """A doi or an eprint for BibTeX: printable characters that cannot end the field or start a command."""
    return "".join(ch for ch in value if ch.isprintable() and not ch.isspace() and ch not in "{}\\%#")


# Cells that a spreadsheet would run as a formula start with one of these.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: object) -> object:
    """A text cell a spreadsheet shows as text: a leading apostrophe before a formula character."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


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
        ("eprint", verbatim_field(paper["arxiv_id"])),
        ("archivePrefix", "arXiv"),
        ("primaryClass", verbatim_field(paper.get("main_category") or "")),
        ("url", f"https://arxiv.org/abs/{verbatim_field(paper['arxiv_id'])}"),
    ]
    kind = "misc"
    if paper.get("journal_ref"):
        kind = "article"
        fields.insert(3, ("journal", escape_latex(paper["journal_ref"])))
    if paper.get("doi"):
        fields.append(("doi", verbatim_field(paper["doi"])))
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
        row = {
            **paper,
            "authors": "; ".join(paper.get("authors") or []),
            "categories": " ".join(paper.get("categories") or []),
            "published": paper["published"].date().isoformat() if isinstance(paper.get("published"), datetime)
            else paper.get("published"),
            "url": f"https://arxiv.org/abs/{paper['arxiv_id']}",
        }
        writer.writerow({name: csv_cell(value) for name, value in row.items()})
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
