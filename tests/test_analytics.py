"""The analysts' schema `analytics`, arXiv's taxonomy and the read-only role atlas_reader.

Everything runs as atlas_reader would, against the real 10k sample; docs/analysts.md is executed
block by block, so its examples cannot rot.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from app.core.embedded_server import EmbeddedPostgres
from app.core.roles import (
    READER_ROLE,
    ReaderRoleError,
    ensure_reader_role,
    reader_url,
    role_url,
)
from app.core.settings import Settings
from tests.conftest import free_port

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "analysts.md"
READER_PASSWORD = "reader-test-password"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.S | re.M)


def doc_queries() -> list[str]:
    return [block.strip() for block in SQL_BLOCK.findall(DOCS.read_text())]


def set_up_reader(settings: Settings, password: str = READER_PASSWORD, **overrides) -> Settings:
    """Create or update the role as `atlas db upgrade` does, with these settings; returns them."""
    settings = dataclasses.replace(settings, reader_password=password, **overrides)
    with psycopg.connect(settings.database_url) as conn:
        ensure_reader_role(conn, settings, password)
    return settings


def reader_connect(settings: Settings, password: str = READER_PASSWORD, **kwargs) -> psycopg.Connection:
    return psycopg.connect(role_url(settings.database_url, READER_ROLE, password), **kwargs)


def analytics_objects(conn: psycopg.Connection) -> dict[str, str]:
    """name -> kind ('view', 'function', ...) of every object in schema analytics."""
    rows = conn.execute(
        """
        select c.relname, case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                         else 'table' end
          from pg_class c
         where c.relnamespace = 'analytics'::regnamespace and c.relkind in ('r', 'v', 'm', 'p', 'f')
        union all
        select p.proname, 'function' from pg_proc p where p.pronamespace = 'analytics'::regnamespace
        """
    ).fetchall()
    return dict(rows)


@pytest.fixture(scope="module")
def reader_10k(mapped_10k: Settings) -> Iterator[Settings]:
    """The loaded 10k database with atlas_reader set up (default timeout and limit)."""
    yield set_up_reader(mapped_10k)


@pytest.fixture(scope="module")
def reader(reader_10k: Settings) -> Iterator[psycopg.Connection]:
    """A connection as atlas_reader to the 10k database (autocommit, as BI tools work)."""
    with reader_connect(reader_10k, autocommit=True) as conn:
        yield conn


@pytest.fixture
def restore_reader(reader_10k: Settings) -> Iterator[None]:
    """For tests that change the role's password, timeout or limit: set the defaults back after."""
    yield
    set_up_reader(reader_10k)


# ---- the schema and its documentation --------------------------------------------------------------


def test_every_analytics_object_has_a_comment_and_is_documented(reader: psycopg.Connection) -> None:
    objects = analytics_objects(reader)
    assert {"papers", "paper_authors", "paper_categories", "categories", "archives", "category_stats",
            "monthly_category_counts", "monthly_archive_counts", "paper_embeddings", "embedding_space",
            "similar_papers", "search_papers_by_vector", "search_papers_semantic", "search_papers_by_text",
            "search_papers_hybrid", "project_embedding", "maps", "map_points", "map_topics",
            "paper_neighbors"} <= set(objects)
    uncommented = [name for (name,) in reader.execute(
        """
        select c.relname from pg_class c
         where c.relnamespace = 'analytics'::regnamespace and c.relkind in ('r', 'v', 'm', 'p', 'f')
           and obj_description(c.oid, 'pg_class') is null
        union all
        select p.proname from pg_proc p
         where p.pronamespace = 'analytics'::regnamespace and obj_description(p.oid, 'pg_proc') is null
        """
    )]
    assert not uncommented, f"analytics objects without a COMMENT: {uncommented}"
    assert reader.execute("select obj_description('analytics'::regnamespace, 'pg_namespace')").fetchone()[0]
    docs = DOCS.read_text()
    undocumented = [name for name in objects if f"analytics.{name}" not in docs]
    assert not undocumented, f"analytics objects missing from docs/analysts.md: {undocumented}"


def test_the_main_columns_of_the_views_are_commented(reader: psycopg.Connection) -> None:
    missing = [f"{view}.{column}" for view, column in [
        ("papers", "main_category_name"), ("papers", "published_month"), ("papers", "authors"),
        ("paper_authors", "position"), ("paper_categories", "is_primary"), ("categories", "status"),
        ("category_stats", "papers_with_cross_lists"), ("monthly_category_counts", "month"),
        ("paper_embeddings", "embedding"),
    ] if reader.execute(
        "select col_description(%s::regclass, a.attnum) from pg_attribute a "
        "where a.attrelid = %s::regclass and a.attname = %s", (f"analytics.{view}", f"analytics.{view}", column)
    ).fetchone()[0] is None]
    assert not missing, f"columns without a COMMENT: {missing}"


@pytest.mark.parametrize("query", doc_queries(), ids=lambda q: q.splitlines()[0][:60])
def test_the_examples_of_the_docs_run_as_the_reader(reader: psycopg.Connection, query: str) -> None:
    rows = reader.execute(query).fetchall()
    assert rows, f"the example returned no rows:\n{query}"


def test_the_docs_have_at_least_ten_examples() -> None:
    assert len(doc_queries()) >= 10


# ---- the views and functions, as the reader ---------------------------------------------------------


def test_the_reader_reads_every_view(reader: psycopg.Connection) -> None:
    views = [name for name, kind in analytics_objects(reader).items() if kind != "function"]
    assert len(views) >= 10
    for view in views:
        rows = reader.execute(sql.SQL("select * from analytics.{} limit 5").format(sql.Identifier(view))).fetchall()
        assert rows, f"analytics.{view} returned no rows on the 10k sample"


def test_the_reader_calls_every_function(reader: psycopg.Connection, mapped_10k: Settings) -> None:
    vector = "(select embedding from analytics.paper_embeddings where arxiv_id = '0705.1986')"
    calls = {
        "similar_papers": "select arxiv_id from analytics.similar_papers('0705.1986', 5)",
        "search_papers_by_vector": f"select arxiv_id from analytics.search_papers_by_vector({vector}, 5)",
        "search_papers_semantic":
            f"select arxiv_id from analytics.search_papers_semantic('Hopcroft minimization', {vector}, 5)",
        "search_papers_by_text": "select arxiv_id from analytics.search_papers_by_text('Hopcroft minimization', 5)",
        "search_papers_hybrid":
            f"select arxiv_id from analytics.search_papers_hybrid('Hopcroft minimization', {vector}, 5)",
        "project_embedding": "select analytics.project_embedding(array_fill(0.1::real, array[384]))",
        "search_papers_by_title": "select arxiv_id from analytics.search_papers_by_title('automata minimization', 5)",
        "search_papers_by_author": "select arxiv_id from analytics.search_papers_by_author("
                                   "(select authors[1] from analytics.papers where arxiv_id = '0705.1986'), 5)",
    }
    functions = {name for name, kind in analytics_objects(reader).items() if kind == "function"}
    assert functions == set(calls), "every analytics function needs a call here"
    for name, query in calls.items():
        rows = reader.execute(query).fetchall()
        assert rows and rows[0][0] is not None, name
    # the wrappers answer exactly what the app's functions answer
    with psycopg.connect(mapped_10k.database_url) as admin:
        for name in ("similar_papers", "search_papers_by_vector", "search_papers_semantic", "search_papers_by_text",
                     "search_papers_hybrid", "search_papers_by_title", "search_papers_by_author"):
            mine = reader.execute(calls[name]).fetchall()
            theirs = admin.execute(calls[name].replace("analytics.search_papers", "public.search_papers")
                                   .replace("analytics.similar_papers", "public.similar_papers")).fetchall()
            assert mine == theirs, name
    assert reader.execute("select count(*) from analytics.similar_papers('0705.1986', 5)").fetchone()[0] == 5
    with pytest.raises(psycopg.errors.NoDataFound, match="no paper with arxiv_id 9999.99999"):
        reader.execute("select * from analytics.similar_papers('9999.99999', 5)")


def test_project_embedding_gives_back_the_stored_vector(reader: psycopg.Connection, shared_data: Path) -> None:
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt") as lines:
        first = json.loads(next(lines))["arxiv_id"]
    native = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[0].astype(np.float32)
    distance = reader.execute(
        "select analytics.project_embedding(%s::real[]) <=> embedding from analytics.paper_embeddings "
        "where arxiv_id = %s", (native.tolist(), first)
    ).fetchone()[0]
    assert distance < 1e-3


def test_the_views_agree_with_the_tables(reader: psycopg.Connection, mapped_10k: Settings) -> None:
    with psycopg.connect(mapped_10k.database_url) as admin:
        papers, authorships, dated, embedded = admin.execute(
            "select count(*), sum(cardinality(authors)), count(published), count(embedding) from papers"
        ).fetchone()
        listings = admin.execute(
            "select count(*) from papers, lateral (select distinct c from unnest(categories || main_category) c) l"
        ).fetchone()[0]
    one = lambda query: reader.execute(query).fetchone()[0]  # noqa: E731
    assert one("select count(*) from analytics.papers") == papers == 9992
    assert one("select count(*) from analytics.paper_authors") == authorships
    assert one("select count(*) from analytics.paper_categories") == listings
    assert one("select count(*) from analytics.paper_categories where is_primary") == papers
    assert one("select count(*) from analytics.paper_embeddings") == embedded
    assert one("select sum(papers) from analytics.monthly_category_counts") == dated
    assert one("select sum(papers) from analytics.monthly_archive_counts") == dated
    assert one("select sum(papers) from analytics.category_stats") == papers
    assert one("select sum(papers_with_cross_lists) from analytics.category_stats") == listings
    row = reader.execute(
        "select main_category_name, archive_name, group_name, first_author, published_year, published_month "
        "from analytics.papers where arxiv_id = '0705.1986'"
    ).fetchone()
    assert row[:4] == ("Data Structures and Algorithms", "Computer Science", "Computer Science", "Andrei Paun")
    assert row[4] == 2007 and row[5].isoformat() == "2007-05-01"


# ---- the taxonomy -----------------------------------------------------------------------------------


def test_the_map_views_agree_with_the_tables(reader: psycopg.Connection, mapped_10k: Settings) -> None:
    per_level = reader.execute(
        "select t.map, t.level, sum(t.size), min(m.paper_count) from analytics.map_topics t "
        "join analytics.maps m using (map) group by t.map, t.level"
    ).fetchall()
    assert per_level and all(total == count for _, _, total, count in per_level)
    points = dict(reader.execute("select map, count(*) from analytics.map_points "
                                 "where coarse_topic is not null and fine_topic is not null group by map"))
    assert points == dict(reader.execute("select map, paper_count from analytics.maps"))
    lists = reader.execute("select count(distinct arxiv_id), count(*), min(rank), max(rank) "
                           "from analytics.paper_neighbors").fetchone()
    with psycopg.connect(mapped_10k.database_url) as admin:
        papers = admin.execute("select count(*) from papers where embedding is not null").fetchone()[0]
    assert lists == (papers, papers * 10, 1, 10)


def test_every_category_of_the_10k_sample_has_a_long_name(reader: psycopg.Connection) -> None:
    unnamed = reader.execute(
        "select distinct category from analytics.paper_categories where category_name is null"
    ).fetchall()
    assert not unnamed, f"categories without a name: {unnamed}"
    one = lambda query: reader.execute(query).fetchone()[0]  # noqa: E731
    assert one("select count(*) from analytics.papers where main_category_name is null") == 0
    assert one("select count(*) from analytics.category_stats where category_name is null") == 0


def test_every_category_of_the_100k_sample_is_in_the_taxonomy(db: Settings, shared_data: Path) -> None:
    seen: set[str] = set()
    with gzip.open(shared_data / "arxiv-100k.jsonl.gz", "rt") as lines:
        for line in lines:
            paper = json.loads(line)
            seen.add(paper["primary_category"])
            seen.update(paper["categories"])
    with psycopg.connect(db.database_url) as conn:
        codes = {code for (code,) in conn.execute("select code from arxiv_categories")}
    assert len(seen) > 150
    assert not seen - codes, f"100k sample codes missing from sql/idempotent/060-categories.sql: {sorted(seen - codes)}"


def test_the_taxonomy_is_consistent(db: Settings) -> None:
    with psycopg.connect(db.database_url) as conn:
        names = dict(conn.execute("select code, name from arxiv_categories").fetchall())
        assert names["cs.CL"] == "Computation and Language"
        assert names["math.AG"] == "Algebraic Geometry"
        assert names["hep-th"] == "High Energy Physics - Theory"
        assert names["solv-int"] == "Exactly Solvable and Integrable Systems"
        assert len(names) >= 170
        canonical = dict(conn.execute("select code, canonical_code from arxiv_categories").fetchall())
        assert canonical["solv-int"] == "nlin.SI" and canonical["cs.NA"] == "math.NA" and canonical["cs.CL"] == "cs.CL"
        assert not [code for code, target in canonical.items() if target not in names]
        # every category of an archive agrees on the archive's name and group
        assert not conn.execute(
            "select archive from arxiv_categories group by archive "
            "having count(distinct archive_name) > 1 or count(distinct group_name) > 1"
        ).fetchall()
        groups = {g for (g,) in conn.execute("select distinct group_name from arxiv_categories")}
        assert groups == {"Computer Science", "Economics", "Electrical Engineering and Systems Science",
                          "Mathematics", "Physics", "Quantitative Biology", "Quantitative Finance", "Statistics"}


# ---- the role ---------------------------------------------------------------------------------------


REFUSED = [
    "select * from public.papers limit 1",
    "select * from public.embedding_space",
    "select * from public.load_runs",
    "select * from public.arxiv_categories",
    "select * from public.seed_map_coordinates",
    "select * from public.alembic_version",
    "select * from public.similar_papers('0705.1986', 1)",
    "select * from public.search_papers_by_text('automata', 1)",
    "select public.project_embedding(array_fill(0.1::real, array[384]))",
    "insert into analytics.categories (category, category_name) values ('x.YZ', 'x')",
    "update analytics.paper_embeddings set embedding = null",
    "delete from analytics.paper_embeddings",
    "insert into public.load_runs (started_at, sources, rows_in, loaded, updated, unchanged, rejected) "
    "values (now(), '{}', 0, 0, 0, 0, 0)",
    "update public.papers set title = 'x'",
    "delete from public.papers",
    "truncate public.papers",
    "create table public.scratch (i integer)",
    "create table analytics.scratch (i integer)",
    "create temporary table scratch (i integer)",
    "create schema scratch",
    "create view analytics.scratch as select 1",
    "create function public.scratch() returns integer language sql return 1",
    "drop view analytics.papers",
    "alter table public.papers add column scratch integer",
    "comment on view analytics.papers is 'mine'",
    "select lo_create(0)",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_the_reader_can_neither_write_nor_reach_the_apps_objects(reader_10k: Settings, statement: str) -> None:
    with reader_connect(reader_10k, autocommit=True) as conn:
        # Out of the read-only default first: the privileges themselves must refuse.
        conn.execute("set default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_the_reader_role_has_its_limits_and_defaults(reader: psycopg.Connection, mapped_10k: Settings) -> None:
    show = lambda name: reader.execute(f"show {name}").fetchone()[0]  # noqa: E731
    assert show("statement_timeout") == "1min"
    assert show("default_transaction_read_only") == "on"
    assert show("search_path") == "analytics, public"
    assert reader.execute("select count(*) from papers").fetchone()[0] == 9992  # analytics.papers
    # pgvector's types and operators work for the reader
    assert reader.execute("select '[1,0]'::halfvec <=> '[0,1]'::halfvec").fetchone()[0] == 1
    with psycopg.connect(mapped_10k.database_url) as admin:
        row = admin.execute(
            "select rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolconnlimit "
            "from pg_roles where rolname = %s", (READER_ROLE,)
        ).fetchone()
        assert row == (True, False, False, False, False, False, 10)
        assert not admin.execute(
            "select 1 from pg_auth_members where member = %s::regrole", (READER_ROLE,)
        ).fetchall()
        # the analytics functions that read tables run as their owner, with a pinned search_path
        loose = admin.execute(
            "select proname from pg_proc where pronamespace = 'analytics'::regnamespace "
            "and (not prosecdef or not exists (select from unnest(proconfig) c where c like 'search_path=%%'))"
        ).fetchall()
        assert not loose, f"analytics functions without SECURITY DEFINER and a pinned search_path: {loose}"


def test_the_statement_timeout_cancels_long_queries(reader_10k: Settings, restore_reader: None) -> None:
    settings = set_up_reader(reader_10k, reader_statement_timeout="500ms")
    with reader_connect(settings) as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] == "500ms"
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("select pg_sleep(3)")
    with pytest.raises(ReaderRoleError, match="ATLAS_READER_STATEMENT_TIMEOUT='a while'"):
        set_up_reader(reader_10k, reader_statement_timeout="a while")


def test_the_connection_limit_is_enforced(reader_10k: Settings, restore_reader: None) -> None:
    with psycopg.connect(reader_10k.database_url) as admin:
        open_now = admin.execute(
            "select count(*) from pg_stat_activity where usename = %s", (READER_ROLE,)
        ).fetchone()[0]
    set_up_reader(reader_10k, reader_connection_limit=open_now + 1)
    with reader_connect(reader_10k), pytest.raises(psycopg.OperationalError, match="too many connections for role"):
        reader_connect(reader_10k).close()


def test_setting_up_twice_is_harmless_and_a_new_password_applies(
    reader_10k: Settings, restore_reader: None
) -> None:
    with psycopg.connect(reader_10k.database_url) as admin:
        report = ensure_reader_role(admin, reader_10k, READER_PASSWORD)
        assert not report.created and report.granted
    reader_connect(reader_10k).close()
    set_up_reader(reader_10k, password="a-new-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        reader_connect(reader_10k).close()
    with reader_connect(reader_10k, password="a-new-password") as conn:
        assert conn.execute("select count(*) from analytics.categories").fetchone()[0] >= 170


def test_privileges_follow_the_sql_files(make_db) -> None:
    settings = set_up_reader(make_db())
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        # re-applying the sql files is harmless and keeps the reader's access
        for name in ("idempotent/060-categories.sql", "idempotent/070-analytics.sql"):
            admin.execute((REPO / "sql" / name).read_text())
        # a function added to public later is callable by PUBLIC until the privileges are re-applied
        admin.execute("create function public.later_helper() returns integer language sql return 1")
        public_may = "select has_function_privilege('public', 'public.later_helper()', 'EXECUTE')"
        assert admin.execute(public_may).fetchone()[0] is True
        admin.execute("call apply_analytics_privileges(%s)", (READER_ROLE,))
        assert admin.execute(public_may).fetchone()[0] is False
    with reader_connect(settings) as conn:
        assert conn.execute("select count(*) from analytics.categories").fetchone()[0] >= 170
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select public.later_helper()")


def test_downgrade_gives_back_what_upgrade_took(make_db) -> None:
    from app.core.migrate import downgrade_database, upgrade_database

    settings = set_up_reader(make_db())
    downgrade_database(settings, "0002")
    with psycopg.connect(settings.database_url) as admin:
        assert admin.execute("select to_regnamespace('analytics'), to_regclass('arxiv_categories')").fetchone() == (
            None, None)
        assert admin.execute(
            "select has_function_privilege('public', 'public.similar_papers(text, integer, text, date, date)', "
            "'EXECUTE'), has_database_privilege('public', current_database(), 'TEMP')"
        ).fetchone() == (True, True)
    upgrade_database(settings)
    # the role itself stays (it is the cluster's, not the database's) and is granted analytics again
    with reader_connect(settings, autocommit=True) as conn:
        assert conn.execute("select count(*) from analytics.categories").fetchone()[0] >= 170
        conn.execute("set default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create temporary table scratch (i integer)")


# ---- getting the URL ------------------------------------------------------------------------------


def test_the_reader_url_works_over_tcp_from_psql(reader_10k: Settings) -> None:
    url = reader_url(reader_10k)
    assert url.startswith(f"postgresql://{READER_ROLE}:{READER_PASSWORD}@")
    psql = EmbeddedPostgres(reader_10k).psql_path()
    out = subprocess.run(
        [str(psql), url, "-tAc", "select current_user, inet_server_addr() is not null, count(*) from analytics.papers"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{READER_ROLE}|t|9992"  # inet_server_addr is null over a Unix socket


def test_with_database_url_the_password_setting_is_required(db: Settings) -> None:
    with pytest.raises(ReaderRoleError, match="ATLAS_READER_PASSWORD"):
        reader_url(dataclasses.replace(db, reader_password=None))
    env = {**os.environ, "DATABASE_URL": db.database_url, "ATLAS_DATA_DIR": str(db.data_dir)}
    env.pop("ATLAS_READER_PASSWORD", None)
    result = subprocess.run([sys.executable, "-m", "app.cli", "db", "reader-url"], capture_output=True, text=True,
                            env=env, cwd=REPO, timeout=120)
    assert result.returncode == 1 and "ATLAS_READER_PASSWORD" in result.stderr and "Traceback" not in result.stderr


def test_role_url_keeps_the_server_and_replaces_the_user() -> None:
    assert role_url("postgresql://atlas:secret@127.0.0.1:54329/atlas", "atlas_reader", "p@ss/word") == (
        "postgresql://atlas_reader:p%40ss%2Fword@127.0.0.1:54329/atlas"
    )
    assert role_url("host=db.example.org port=5433 dbname=papers user=app sslmode=require", "r", "pw") == (
        "postgresql://r:pw@db.example.org:5433/papers?sslmode=require"
    )


def test_embedded_server_generates_the_password_once_and_upgrade_twice_is_harmless(server_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ATLAS_READER_PASSWORD"}}
    env.update(ATLAS_DATA_DIR=str(server_dir / "atlas-data"), ATLAS_DB_PORT=str(free_port()))

    def atlas(*args: str, **extra: str) -> str:
        result = subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                                env={**env, **extra}, cwd=REPO, timeout=180)
        assert result.returncode == 0, f"atlas {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    try:
        assert "atlas_reader created" in atlas("db", "upgrade")
        assert "atlas_reader up to date" in atlas("db", "upgrade")
        password_file = server_dir / "atlas-data" / "reader-password"
        assert password_file.stat().st_mode & 0o777 == 0o600
        password = password_file.read_text().strip()
        url = atlas("db", "reader-url").strip()
        assert url == f"postgresql://{READER_ROLE}:{password}@127.0.0.1:{env['ATLAS_DB_PORT']}/atlas"
        assert atlas("db", "reader-url").strip() == url  # the same password every time
        psql = str(EmbeddedPostgres(Settings()).psql_path())
        out = subprocess.run([psql, url, "-tAc", "select count(*) from analytics.category_stats"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and int(out.stdout) >= 170, out.stderr
        # a password from the setting replaces the generated one
        atlas("db", "upgrade", ATLAS_READER_PASSWORD="chosen-password")
        assert subprocess.run([psql, url, "-tAc", "select 1"], capture_output=True, timeout=60).returncode != 0
        chosen = url.replace(password, "chosen-password")
        assert subprocess.run([psql, chosen, "-tAc", "select 1"], capture_output=True, timeout=60).returncode == 0
    finally:
        subprocess.run([sys.executable, "-m", "app.cli", "db", "stop"], env=env, cwd=REPO, capture_output=True)
