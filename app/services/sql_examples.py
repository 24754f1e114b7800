"""The SQL panel's one-click examples: the SQL blocks of docs/analysts.md with the sentence before each."""

from __future__ import annotations

import functools
import re
from pathlib import Path

ANALYSTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"


@functools.cache
def analyst_examples(path: Path = ANALYSTS_DOC) -> list[dict[str, str]]:
    """[{title, sql}] for each ```sql block of the `## Examples` section (empty when the docs are absent)."""
    if not path.is_file():
        return []
    text = path.read_text()
    start = text.find("## Examples")
    if start < 0:
        return []
    section = text[start:]
    end = section.find("\n## ", 4)
    section = section if end < 0 else section[:end]
    examples = []
    for match in re.finditer(r"((?:[^\n]+\n)+)\n```sql\n(.*?)```", section, flags=re.S):
        title = " ".join(match.group(1).split()).rstrip(":")
        examples.append({"title": title, "sql": match.group(2).strip()})
    return examples
