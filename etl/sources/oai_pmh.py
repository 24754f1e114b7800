"""OAI-PMH responses saved as files (arXiv's harvesting interface, https://oaipmh.arxiv.org/oai):
ListRecords or GetRecord pages in the `arXiv`, `arXivRaw` or `oai_dc` metadata format.

Each `record` becomes a row of the kaggle (arXivRaw: versions, author string) or jsonl (arXiv,
oai_dc) vocabulary and goes through the one normaliser. Deleted records (`<header status="deleted">`)
carry no metadata: they are skipped and counted in the load's notes. `oai_dc` names categories
("Condensed Matter - Materials Science"): they are mapped to codes through the taxonomy, and a name
that maps to none is noted. The resumption token of a page is what `atlas harvest` follows; a file
is just its records.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.records import PaperRecord, Reject, SourceNotes, StructuralError
from etl.sources.normalise import normalise, truncate
from etl.sources.taxonomy import category_code
from etl.sources.xml_elements import Element, iter_elements

METADATA_FORMATS = ("arXiv", "arXivRaw", "oai_dc")
_ABS_URL_RE = re.compile(r"^https?://(?:export\.)?arxiv\.org/abs/", re.IGNORECASE)
_CLASS_CODE_RE = re.compile(r"\d")  # MSC/ACM class codes ("14J60", "F.2.2") that oai_dc lists as subjects


def read_oai_pmh(path: Path, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    path = Path(path)
    return _stream(path, notes)


def _stream(path: Path, notes: SourceNotes | None) -> Iterator[PaperRecord | Reject]:
    source_file = str(path)
    deleted: list[str] = []
    protocol: list[Element] = []
    for record in iter_elements(path, frozenset({"record"}), protocol):
        header = record.find("header")
        identifier = header.text_of("identifier") if header is not None else None
        if header is not None and header.attributes.get("status") == "deleted":
            deleted.append(identifier or f"line {record.line}")
            continue
        metadata = record.find("metadata")
        content = metadata.children[0] if metadata is not None and metadata.children else None
        if content is None:
            yield Reject(source_file, record.line, "metadata", identifier or "", "a record without metadata")
            continue
        row = _ROWS.get(content.name)
        if row is None:
            yield Reject(source_file, record.line, "metadata", content.name,
                         f"metadata format {content.name!r}; supported: {', '.join(METADATA_FORMATS)}")
            continue
        vocabulary, fields = row(content, identifier, notes)
        yield normalise(vocabulary, fields, source_file, record.line, notes)
    for element in protocol:
        if element.name == "error" and element.attributes.get("code") != "noRecordsMatch":
            raise StructuralError(f"{path}: an OAI-PMH error response ({element.attributes.get('code')}): "
                                  f"{truncate(element.text)}")
    if deleted and notes is not None:
        notes.note(f"{path}: skipped {len(deleted)} deleted record(s): {', '.join(deleted[:5])}")


def _arxiv(content: Element, identifier: str | None, notes: SourceNotes | None) -> tuple[str, dict[str, Any]]:
    """metadataPrefix=arXiv: structured authors (keyname, forenames, suffix), created/updated dates."""
    authors = []
    container = content.find("authors")
    for author in container.findall("author") if container is not None else []:
        parts = (author.text_of("forenames"), author.text_of("keyname"), author.text_of("suffix"))
        authors.append(" ".join(p for p in parts if p))
    fields = {
        "arxiv_id": content.text_of("id") or identifier, "title": content.text_of("title"),
        "abstract": content.text_of("abstract"), "authors": authors, "categories": content.text_of("categories"),
        "created": content.text_of("created"), "updated": content.text_of("updated"),
        "comments": content.text_of("comments"), "journal_ref": content.text_of("journal-ref"),
        "doi": content.text_of("doi"), "report_no": content.text_of("report-no"),
        "msc_class": content.text_of("msc-class"), "acm_class": content.text_of("acm-class"),
        "license": content.text_of("license"),
    }
    return "jsonl", fields


def _arxiv_raw(content: Element, identifier: str | None, notes: SourceNotes | None) -> tuple[str, dict[str, Any]]:
    """metadataPrefix=arXivRaw: the author string as submitted, and every version with its date."""
    versions = [{"version": v.attributes.get("version", ""), "created": v.text_of("date")}
                for v in content.findall("version")]
    fields = {
        "id": content.text_of("id") or identifier, "submitter": content.text_of("submitter"),
        "versions": versions, "title": content.text_of("title"), "authors": content.text_of("authors"),
        "categories": content.text_of("categories"), "comments": content.text_of("comments"),
        "journal-ref": content.text_of("journal-ref"), "doi": content.text_of("doi"),
        "report-no": content.text_of("report-no"), "msc-class": content.text_of("msc-class"),
        "acm-class": content.text_of("acm-class"), "license": content.text_of("license"),
        "abstract": content.text_of("abstract"),
    }
    return "kaggle", fields


def _oai_dc(content: Element, identifier: str | None, notes: SourceNotes | None) -> tuple[str, dict[str, Any]]:
    """metadataPrefix=oai_dc: creators as "Last, First", category names as subjects, one date per version."""
    authors = []
    for creator in content.findall("creator"):
        last, comma, first = creator.text.partition(", ")
        authors.append(f"{first} {last}" if comma and first else creator.text)
    categories = []
    for subject in content.findall("subject"):
        code = category_code(subject.text)
        if code is not None:
            categories.append(code)
        elif notes is not None and subject.text and not _CLASS_CODE_RE.search(subject.text):
            notes.note(f"oai_dc subject that names no arXiv category: {subject.text!r}")
    abstract, comments = None, None
    for description in content.findall("description"):
        if description.text.startswith("Comment:"):
            comments = description.text.removeprefix("Comment:").strip()
        elif abstract is None:
            abstract = description.text
    arxiv_id, doi, journal_ref = identifier, None, None
    for element in content.findall("identifier"):
        value = element.text
        if _ABS_URL_RE.match(value):
            arxiv_id = value
        elif value.lower().startswith("doi:"):
            doi = value[4:].strip()
        elif value and journal_ref is None:
            journal_ref = value
    dates = [d.text for d in content.findall("date") if d.text]
    fields = {
        "arxiv_id": arxiv_id, "title": content.text_of("title"), "abstract": abstract, "authors": authors,
        "categories": categories, "created": dates[0] if dates else None,
        "updated": dates[-1] if len(dates) > 1 else None, "comments": comments, "doi": doi,
        "journal_ref": journal_ref,
    }
    return "jsonl", fields


_ROWS = {"arXiv": _arxiv, "arXivRaw": _arxiv_raw, "dc": _oai_dc}
