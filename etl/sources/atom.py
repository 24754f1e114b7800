"""The arXiv API's Atom feed saved as a file (http://export.arxiv.org/api/query?...): one `entry` a paper.

An entry's id is its abstract URL with the version (http://arxiv.org/abs/2101.00001v2 -> id and
revision 2), `published` the date of v1, `updated` that of the latest version, `summary` the abstract;
arXiv's own elements (arxiv:comment, arxiv:journal_ref, arxiv:doi, arxiv:primary_category) and the
`category` terms complete it. Each entry becomes a row of the jsonl vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from app.core.records import PaperRecord, Reject, SourceNotes
from etl.sources.normalise import normalise
from etl.sources.xml_elements import iter_elements


def read_atom(path: Path, notes: SourceNotes | None = None) -> Iterator[PaperRecord | Reject]:
    path = Path(path)
    return _stream(path, notes)


def _stream(path: Path, notes: SourceNotes | None) -> Iterator[PaperRecord | Reject]:
    source_file = str(path)
    for entry in iter_elements(path, frozenset({"entry"})):
        primary = entry.find("primary_category")
        fields = {
            "id": entry.text_of("id"), "title": entry.text_of("title"), "summary": entry.text_of("summary"),
            "authors": [a.text_of("name") or "" for a in entry.findall("author")],
            "categories": [c.attributes.get("term", "") for c in entry.findall("category")],
            "primary_category": primary.attributes.get("term") if primary is not None else None,
            "published": entry.text_of("published"), "updated": entry.text_of("updated"),
            "comment": entry.text_of("comment"), "journal_ref": entry.text_of("journal_ref"),
            "doi": entry.text_of("doi"),
        }
        yield normalise("jsonl", fields, source_file, entry.line, notes)
