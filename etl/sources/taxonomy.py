"""arXiv's category names -> codes ("Condensed Matter - Materials Science" -> "cond-mat.mtrl-sci").

The names come from sql/idempotent/060-categories.sql, the one copy of the taxonomy (the database's arxiv_categories
table is filled from it). OAI-PMH's `oai_dc` format names categories this way: "<archive> - <category>",
or the archive's name alone for archives without subject classes ("Quantum Physics").
"""

from __future__ import annotations

import functools
import re

from app.core.sql_layer import idempotent_folder

CATEGORIES_FILE = "060-categories.sql"
_ROW_RE = re.compile(r"\(\s*'([^']+)',\s*'((?:[^']|'')*)',\s*'((?:[^']|'')*)',\s*'(?:[^']|'')*',\s*'(\w+)'")


@functools.cache
def category_codes_by_name() -> dict[str, str]:
    """Lower-cased oai_dc subject name -> category code (an active code wins over an alias of the same name)."""
    codes: dict[str, str] = {}
    text = (idempotent_folder() / CATEGORIES_FILE).read_text(encoding="utf-8")
    for code, name, archive_name, status in _ROW_RE.findall(text):
        name, archive_name = name.replace("''", "'"), archive_name.replace("''", "'")
        subject = archive_name if name == archive_name else f"{archive_name} - {name}"
        key = subject.lower()
        if key not in codes or status == "active":
            codes[key] = code
    return codes


def category_code(subject: str) -> str | None:
    """The category code an oai_dc subject names, or None."""
    return category_codes_by_name().get(" ".join(subject.split()).lower())
