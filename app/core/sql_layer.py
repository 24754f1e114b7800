"""The idempotent SQL layer: every function, view, trigger and comment, re-applied at each upgrade.

Model: timescale/pgai's sql/idempotent + sql/incremental. Tables, columns and indexes change only
through Alembic migrations (migrations/versions/); everything that `create or replace` can redefine
lives once in sql/idempotent/NNN-topic.sql and is applied, in name order, after the migrations by
`atlas db upgrade` and `alembic upgrade head`, every time (about a tenth of a second). A function
that was edited by hand or dropped comes back with one `atlas db upgrade`.

What was applied is recorded in sql_layer_files (file, sha256, when) and sql_layer_state (a
fingerprint of the definitions that the layer left in the catalog), so `atlas db status` can tell
whether the database runs exactly the installed SQL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import psycopg

from app.core.errors import AtlasError
from app.core.sql_text import NOT_DEFINITIONS, defined_objects

SQL_PACKAGE = "atlas_sql"  # the sql/ folder, installed under this name (pyproject.toml)
SCHEMAS = ("public", "analytics")


class SqlLayerError(AtlasError):
    """A file of sql/idempotent/ that PostgreSQL refused (the upgrade is rolled back)."""


@dataclass(frozen=True)
class SqlFile:
    name: str  # e.g. idempotent/040-search.sql
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def idempotent_folder() -> Traversable:
    """sql/idempotent/ of the checkout this code runs from, else of the installed package."""
    checkout = Path(__file__).resolve().parents[2] / "sql" / "idempotent"
    if checkout.is_dir():
        return checkout
    return resources.files(SQL_PACKAGE) / "idempotent"


def idempotent_files() -> list[SqlFile]:
    """The files of sql/idempotent/, in the order they are applied (by name)."""
    folder = idempotent_folder()
    files = sorted((entry for entry in folder.iterdir() if entry.name.endswith(".sql")), key=lambda e: e.name)
    return [SqlFile(f"idempotent/{entry.name}", entry.read_text()) for entry in files]


def defined_names(files: list[SqlFile] | None = None) -> dict[tuple[str, str], str]:
    """(kind, name) -> file for every object the layer defines (functions, views, triggers, ...)."""
    names: dict[tuple[str, str], str] = {}
    for sql_file in files if files is not None else idempotent_files():
        for obj in defined_objects(sql_file.text):
            if obj.kind not in NOT_DEFINITIONS:
                names[(obj.kind, obj.name)] = sql_file.name
    return names


def apply_sql_layer(conn: psycopg.Connection) -> list[str]:
    """Run every idempotent file in the caller's transaction, then record what was applied."""
    applied = []
    for sql_file in idempotent_files():
        try:
            conn.execute(sql_file.text)  # no parameters: one simple-protocol round trip, `%` left alone
        except psycopg.Error as exc:
            raise SqlLayerError(f"sql/{sql_file.name} failed: {exc}") from exc
        conn.execute(
            "insert into sql_layer_files (file, sha256, applied_at) values (%s, %s, now()) "
            "on conflict (file) do update set sha256 = excluded.sha256, applied_at = excluded.applied_at",
            (sql_file.name, sql_file.sha256),
        )
        applied.append(sql_file.name)
    conn.execute("delete from sql_layer_files where file <> all(%s)", (applied,))
    conn.execute(
        "insert into sql_layer_state (id, catalog_sha256, applied_at) values (1, %s, now()) "
        "on conflict (id) do update set catalog_sha256 = excluded.catalog_sha256, applied_at = excluded.applied_at",
        (catalog_fingerprint(conn),),
    )
    return applied


# The definitions the layer is responsible for, as the catalog prints them (extension members excluded).
CATALOG_DEFINITIONS = """
select 'function ' || p.oid::regprocedure::text, pg_get_functiondef(p.oid)
             || coalesce(' -- ' || obj_description(p.oid, 'pg_proc'), '')
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where n.nspname = any(%(schemas)s) and p.prokind in ('f', 'p')
   and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid
                   and d.deptype = 'e')
union all
select 'view ' || c.oid::regclass::text, pg_get_viewdef(c.oid)
             || coalesce(' -- ' || obj_description(c.oid, 'pg_class'), '')
             || coalesce((select string_agg(a.attname || ': ' || col_description(c.oid, a.attnum), '; '
                                            order by a.attnum)
                            from pg_attribute a where a.attrelid = c.oid and a.attnum > 0
                             and col_description(c.oid, a.attnum) is not null), '')
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname = any(%(schemas)s) and c.relkind = 'v'
union all
select 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass::text, pg_get_triggerdef(t.oid)
  from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
 where n.nspname = any(%(schemas)s) and not t.tgisinternal
order by 1
"""


def catalog_definitions(conn: psycopg.Connection) -> dict[str, str]:
    rows = conn.execute(CATALOG_DEFINITIONS, {"schemas": list(SCHEMAS)}).fetchall()
    return {name: definition for name, definition in rows}


def catalog_fingerprint(conn: psycopg.Connection) -> str:
    digest = hashlib.sha256()
    for name, definition in sorted(catalog_definitions(conn).items()):
        digest.update(f"{name}\n{definition}\n".encode())
    return digest.hexdigest()


@dataclass
class SqlLayerStatus:
    recorded: bool
    stale_files: list[str] = field(default_factory=list)  # installed files whose sha256 was never applied
    catalog_matches: bool = False

    @property
    def matches(self) -> bool:
        return self.recorded and not self.stale_files and self.catalog_matches

    def describe(self) -> str:
        if not self.recorded:
            return "SQL layer: never applied (run `atlas db upgrade`)"
        if self.matches:
            return f"SQL layer: matches the installed SQL ({len(idempotent_files())} files of sql/idempotent/)"
        problems = []
        if self.stale_files:
            problems.append("changed since applied: " + ", ".join(self.stale_files))
        if not self.catalog_matches:
            problems.append("functions, views or triggers differ from what the layer applied (edited by hand?)")
        return "SQL layer: differs from the installed SQL; run `atlas db upgrade` (" + "; ".join(problems) + ")"


def sql_layer_status(conn: psycopg.Connection) -> SqlLayerStatus:
    if conn.execute("select to_regclass('sql_layer_state') is null").fetchone()[0]:
        return SqlLayerStatus(recorded=False)
    state = conn.execute("select catalog_sha256 from sql_layer_state where id = 1").fetchone()
    if state is None:
        return SqlLayerStatus(recorded=False)
    recorded: dict[str, str] = dict(conn.execute("select file, sha256 from sql_layer_files").fetchall())
    installed = {f.name: f.sha256 for f in idempotent_files()}
    stale = sorted(name for name, sha in installed.items() if recorded.get(name) != sha)
    stale += sorted(f"{name} (no longer installed)" for name in recorded.keys() - installed.keys())
    return SqlLayerStatus(recorded=True, stale_files=stale, catalog_matches=catalog_fingerprint(conn) == state[0])


def drop_layer_only_objects(conn: psycopg.Connection, frozen_names: set[tuple[str, str]]) -> list[str]:
    """Before a downgrade: drop what only the layer defines (no migration created it), so that each
    migration's downgrade finds the objects it created and nothing newer depends on its tables."""
    dropped = []
    for (kind, name), _file in sorted(defined_names().items()):
        if (kind, name) in frozen_names or kind not in ("function", "procedure", "view", "trigger"):
            continue
        if kind == "view":
            conn.execute(f"drop view if exists {name} cascade")
        elif kind == "trigger":
            trigger, _, table = name.partition(" on ")
            conn.execute(f"drop trigger if exists {trigger} on {table}")
        else:
            for (signature,) in conn.execute(
                "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where n.nspname || '.' || p.proname = %(q)s or (p.proname = %(q)s and n.nspname = 'public')",
                {"q": name},
            ).fetchall():
                conn.execute(f"drop {kind} if exists {signature} cascade")
        dropped.append(f"{kind} {name}")
    return dropped
