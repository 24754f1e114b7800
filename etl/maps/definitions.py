"""Which maps exist: a name, a title and a filter (archives or categories; empty = every paper).

A paper is on a map when its main category or its archive is in the filter, the same rule as the
`category` filter of the search functions (sql/idempotent/040-search.sql). Cross-listings do not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from app.core.errors import AtlasError

ALL_PAPERS = "all"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class MapDefinitionError(AtlasError, ValueError):
    """A map name or filter that cannot be used."""


@dataclass(frozen=True)
class MapSpec:
    name: str
    title: str
    filter: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise MapDefinitionError(
                f"map name {self.name!r}: use 1-63 lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )

    def where(self) -> tuple[sql.Composable, tuple]:
        """SQL condition over papers (alias p) that selects this map's papers, and its parameters."""
        if not self.filter:
            return sql.SQL("true"), ()
        codes = list(self.filter)
        return sql.SQL("(p.main_category = any(%s) or p.archive = any(%s))"), (codes, codes)


def default_specs(conn: psycopg.Connection, min_papers: int) -> list[MapSpec]:
    """One map of all papers, and one per archive holding at least `min_papers` papers."""
    rows = conn.execute(
        """
        select a.archive, coalesce((select max(c.archive_name) from arxiv_categories c
                                     where c.archive = a.archive), a.archive), a.papers
          from (select p.archive, count(*) as papers from papers p where p.embedding is not null
                 group by p.archive having count(*) >= %s) a
         order by a.papers desc, a.archive
        """,
        (min_papers,),
    ).fetchall()
    specs = [MapSpec(ALL_PAPERS, "All papers")]
    specs += [MapSpec(archive, title, (archive,)) for archive, title, _ in rows]
    return specs


def spec_for(conn: psycopg.Connection, name: str | None, filters: list[str]) -> MapSpec:
    """A map spec from `--name` and `--filter` (archives or categories known to the database)."""
    known = {row[0] for row in conn.execute(
        "select distinct main_category from papers union select distinct archive from papers "
        "union select code from arxiv_categories union select archive from arxiv_categories"
    )}
    unknown = [f for f in filters if f not in known]
    if unknown:
        raise MapDefinitionError(
            f"unknown archive or category in --filter: {', '.join(unknown)} (use codes such as cs, cs.CL, hep-th)"
        )
    if name is None:
        name = "-".join(f.lower() for f in filters) if filters else ALL_PAPERS
    if not filters:
        return MapSpec(name, "All papers" if name == ALL_PAPERS else name)
    names: dict[str, str] = dict(conn.execute(
        "select code, name from arxiv_categories where code = any(%s) "
        "union all select archive, max(archive_name) from arxiv_categories where archive = any(%s) "
        "and not archive = any(select code from arxiv_categories) group by archive",
        (filters, filters),
    ).fetchall())
    title = ", ".join(names.get(f, f) for f in filters)
    return MapSpec(name, title, tuple(filters))


def stored_spec(conn: psycopg.Connection, name: str) -> MapSpec | None:
    """The spec of an existing map (its title and filter as built), for rebuilding it by name."""
    row = conn.execute("select name, title, filter from maps where name = %s", (name,)).fetchone()
    return MapSpec(row[0], row[1], tuple(row[2])) if row else None
