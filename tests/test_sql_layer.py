"""The SQL in a database is the SQL in sql/: one live definition per object, re-applied by every upgrade.

- A database upgraded one migration at a time ends with the same function bodies, views, triggers,
  comments and grants as a fresh one.
- A function edited by hand or dropped is back after one `atlas db upgrade`; `atlas db status` says
  whether the database runs the installed SQL.
- Every object of sql/idempotent/ is defined once; old migrations apply frozen copies whose sha256
  is pinned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from pathlib import Path

import psycopg
import pytest
from conftest import create_database, drop_database

from app.core.connections import url_with_database
from app.core.migrate import downgrade_database, upgrade_database
from app.core.sql_layer import (
    SCHEMAS,
    catalog_definitions,
    defined_names,
    idempotent_files,
    sql_layer_status,
)
from app.core.sql_text import NOT_DEFINITIONS, defined_object, split_statements
from migrations.frozen_sql import FROZEN_DIR, PINNED_SHA256, FrozenSqlChanged, frozen_sql

REPO = Path(__file__).resolve().parent.parent

# Grants and comments beside the definitions: what a person or a BI tool sees of the schema.
PRIVILEGES = """
select 'function ' || p.oid::regprocedure::text, coalesce(p.proacl::text, 'default')
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where n.nspname = any(%(schemas)s)
   and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid
                   and d.deptype = 'e')
union all
select 'relation ' || c.oid::regclass::text, coalesce(c.relacl::text, 'default')
             || coalesce(' -- ' || obj_description(c.oid, 'pg_class'), '')
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname = any(%(schemas)s) and c.relkind in ('r', 'v', 'm', 'S')
union all
select 'schema ' || n.nspname, coalesce(n.nspacl::text, 'default') from pg_namespace n
 where n.nspname = any(%(schemas)s)
"""


def schema_snapshot(url: str) -> dict[str, str]:
    """Every definition, comment and grant the SQL layer and the migrations leave, by object."""
    with psycopg.connect(url) as conn:
        snapshot = {f"def {k}": v for k, v in catalog_definitions(conn).items()}
        rows = conn.execute(PRIVILEGES, {"schemas": list(SCHEMAS)}).fetchall()
    # the ACL lists name the owner; databases of one server share it, so they compare as they are
    snapshot.update({f"acl {k}": v for k, v in rows})
    return snapshot


def step_by_step_database(pg_admin_url: str, base_settings, tmp_path: Path):
    name = f"atlas_steps_{uuid.uuid4().hex[:8]}"
    create_database(pg_admin_url, name)
    settings = dataclasses.replace(base_settings, database_url=url_with_database(pg_admin_url, name),
                                   data_dir=tmp_path / name)
    return name, settings


def revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    from app.core.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("unused"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_upgraded_step_by_step_equals_fresh(pg_admin_url, base_settings, tmp_path) -> None:
    # both databases are migrated now, under the same roles of the cluster (grants depend on them)
    fresh_name, fresh = step_by_step_database(pg_admin_url, base_settings, tmp_path)
    name, settings = step_by_step_database(pg_admin_url, base_settings, tmp_path)
    try:
        upgrade_database(fresh)
        for revision in revisions():
            upgrade_database(settings, revision)
        before, after = schema_snapshot(fresh.database_url), schema_snapshot(settings.database_url)
        assert len(before) > 100  # functions, views, triggers, tables: the comparison has content
        differing = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert not differing, f"step-by-step differs from fresh in: {differing[:10]}"
    finally:
        drop_database(pg_admin_url, name)
        drop_database(pg_admin_url, fresh_name)


def test_tampered_and_dropped_functions_come_back(make_db) -> None:
    settings = make_db()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        assert sql_layer_status(conn).matches
        conn.execute("create or replace function fold_text(t text) returns text language sql immutable "
                     "return 'tampered'")
        conn.execute("drop function similar_papers(text, integer, text, date, date) cascade")
        status = sql_layer_status(conn)
        assert not status.matches and not status.catalog_matches and "edited by hand" in status.describe()
    upgrade_database(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        assert conn.execute("select fold_text('Schrödinger')").fetchone()[0] == "schrodinger"
        assert conn.execute("select to_regprocedure('similar_papers(text, integer, text, date, date)')"
                            ).fetchone()[0] is not None
        assert sql_layer_status(conn).matches
        recorded = dict(conn.execute("select file, sha256 from sql_layer_files").fetchall())
    assert recorded == {f.name: f.sha256 for f in idempotent_files()}


def test_status_names_a_file_changed_since_it_was_applied(make_db) -> None:
    settings = make_db()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("update sql_layer_files set sha256 = 'old' where file = 'idempotent/040-search.sql'")
        status = sql_layer_status(conn)
    assert not status.matches and status.stale_files == ["idempotent/040-search.sql"]
    assert "040-search.sql" in status.describe()


def test_every_object_is_defined_once() -> None:
    seen: dict[tuple[str, str], str] = {}
    duplicates = []
    for sql_file in idempotent_files():
        for statement in split_statements(sql_file.text):
            obj = defined_object(statement)
            assert obj is not None, f"sql/{sql_file.name}: a statement defines nothing known: {statement[:80]!r}"
            if obj.kind in NOT_DEFINITIONS:
                continue
            key = (obj.kind, obj.name)
            if key in seen:
                duplicates.append(f"{obj.kind} {obj.name} in {seen[key]} and {sql_file.name}")
            seen[key] = sql_file.name
    assert not duplicates, duplicates
    assert len(seen) == len(defined_names()) and len(seen) > 100


def test_sql_files_are_idempotent_definitions_only() -> None:
    for sql_file in idempotent_files():
        for statement in split_statements(sql_file.text):
            obj = defined_object(statement)
            if obj and obj.kind in ("function", "procedure", "view", "trigger"):
                head = " ".join(statement.split())
                assert "or replace" in head.lower()[:60] or head.lower().startswith("--"), (
                    f"sql/{sql_file.name}: {obj.kind} {obj.name} is not `create or replace`")
    assert not list((REPO / "sql").glob("*.sql")), "sql/ holds topic files under sql/idempotent/ only"


def test_the_splitter_keeps_atomic_bodies_and_dollar_quotes_whole() -> None:
    text = """
    -- a comment; with a semicolon
    create or replace function f() returns int language sql begin atomic select 1; select case when true
      then 2 else 3 end; end;
    create or replace function g() returns text language plpgsql as $body$ begin return 'a;b'; end $body$;
    comment on function g() is 'it''s; fine';
    """
    statements = split_statements(text)
    assert [defined_object(s).kind for s in statements] == ["function", "function", "comment"]


def test_frozen_copies_are_pinned() -> None:
    on_disk = {p.name for p in FROZEN_DIR.glob("*.sql")}
    assert on_disk == set(PINNED_SHA256)
    for name in on_disk:
        assert hashlib.sha256((FROZEN_DIR / name).read_bytes()).hexdigest() == PINNED_SHA256[name]
        frozen_sql(name)
    with pytest.raises(FrozenSqlChanged, match="never edited"):
        original = PINNED_SHA256["search.sql"]
        PINNED_SHA256["search.sql"] = "0" * 64
        try:
            frozen_sql("search.sql")
        finally:
            PINNED_SHA256["search.sql"] = original


def test_migrations_read_no_file_at_run_time() -> None:
    """What a migration applies is in the migration or in a pinned frozen copy, never in a file that edits change."""
    for path in (REPO / "migrations" / "versions").glob("*.py"):
        text = path.read_text()
        assert "read_text" not in text and "open(" not in text and "atlas_sql" not in text, path.name


def test_downgrade_to_base_and_up_again(pg_admin_url, base_settings, tmp_path) -> None:
    name, settings = step_by_step_database(pg_admin_url, base_settings, tmp_path)  # migrated now, like the rest
    try:
        upgrade_database(settings)
        fresh = schema_snapshot(settings.database_url)
        downgrade_database(settings, "base")
        with psycopg.connect(settings.database_url) as conn:
            left = conn.execute(
                "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where n.nspname in ('public', 'analytics') and not exists (select from pg_depend d where "
                "d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')"
            ).fetchall()
            tables = conn.execute("select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                                  "where n.nspname = 'public' and relkind = 'r'").fetchall()
        assert left == [] and [t for (t,) in tables if t != "alembic_version"] == []
        upgrade_database(settings)
        again = schema_snapshot(settings.database_url)
        assert {k for k in fresh.keys() | again.keys() if fresh.get(k) != again.get(k)} == set()
    finally:
        drop_database(pg_admin_url, name)
