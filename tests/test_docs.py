"""The docs cannot drift: every SQL object and every benchmark is documented."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OBJECT = re.compile(r"create\s+or\s+replace\s+(function|view|procedure)\s+([\w.]+)", re.I)


def sql_objects() -> list[tuple[Path, str, int]]:
    found = []
    for path in sorted((REPO / "sql" / "idempotent").glob("*.sql")):
        text = path.read_text()
        for match in OBJECT.finditer(text):
            found.append((path, match.group(2), match.start()))
    return found


def test_there_are_sql_objects_to_check() -> None:
    names = {name for _, name, _ in sql_objects()}
    assert {"similar_papers", "search_papers_by_vector", "search_papers_semantic", "search_papers_by_text",
            "search_papers_hybrid", "project_embedding"} <= names


def test_every_sql_object_is_named_in_the_docs() -> None:
    docs = (REPO / "README.md").read_text() + "".join(p.read_text() for p in (REPO / "docs").glob("*.md"))
    internal = {"paper_matches_filters", "join_words"}  # helpers the planner inlines; not for users
    missing = [name for _, name, _ in sql_objects()
               if name not in internal and name.split(".")[-1] not in docs]
    assert not missing, f"SQL objects missing from README.md / docs/: {missing}"


def test_every_sql_object_has_a_header_comment() -> None:
    for path, name, start in sql_objects():
        before = path.read_text()[:start].rstrip().splitlines()
        assert before and before[-1].lstrip().startswith("--"), f"{path.name}: {name} has no header comment"


def test_every_sql_file_starts_with_a_header() -> None:
    for path in (REPO / "sql" / "idempotent").glob("*.sql"):
        assert path.read_text().startswith("--"), f"{path.name} has no header comment"
