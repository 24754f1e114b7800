"""POST /api/sql: the web map's SQL panel, run as atlas_sql_runner on the real 10k sample and its maps.

Each hostile query is answered 4xx with the database's message and changes nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from litestar.testing import TestClient

from app.api import create_app
from app.core.roles import SQL_RUNNER_ROLE, ensure_sql_runner_role
from app.core.settings import Settings

SQL_PASSWORD = "sql-runner-test-password-Qm41"
TIMEOUT_MS = 1500
MAX_ROWS = 500


@pytest.fixture(scope="module")
def sql_settings(mapped_10k: Settings) -> Settings:
    settings = dataclasses.replace(mapped_10k, sql_password=SQL_PASSWORD, sql_enabled="on",
                                   sql_statement_timeout_ms=TIMEOUT_MS, sql_max_rows=MAX_ROWS)
    with psycopg.connect(settings.database_url) as conn:
        ensure_sql_runner_role(conn, settings, SQL_PASSWORD)  # as `atlas db upgrade` does
    return settings


@pytest.fixture(scope="module")
def client(sql_settings: Settings) -> Iterator[TestClient]:
    with TestClient(app=create_app(sql_settings)) as test_client:
        yield test_client


def counts(settings: Settings) -> tuple:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(
            "select (select count(*) from papers), (select count(*) from maps), (select count(*) from map_points), "
            "(select count(*) from pg_class where relnamespace in ('analytics'::regnamespace, 'public'::regnamespace))"
        ).fetchone()


def run(client: TestClient, sql: str, **body) -> tuple[int, dict]:
    response = client.post("/api/sql", json={"sql": sql, **body})
    return response.status_code, response.json()


# ---- what works ---------------------------------------------------------------------------------------
def test_a_query_with_arxiv_ids_becomes_points_of_the_map(client: TestClient) -> None:
    status, body = run(client, "select arxiv_id, title, published_year from analytics.papers "
                               "where main_category = 'math.CO' order by arxiv_id limit 40", map="all")
    assert status == 200, body
    assert [c["name"] for c in body["columns"]] == ["arxiv_id", "title", "published_year"]
    assert body["row_count"] == 40 and body["id_column"] == "arxiv_id" and not body["truncated"]
    assert body["on_map"] == 40
    point = body["points"][0]
    assert body["rows"][point["row"]][0] == point["arxiv_id"] and isinstance(point["x"], float)


def test_a_query_that_finds_nothing_answers_its_columns_and_no_rows(client: TestClient) -> None:
    status, body = run(client, "select arxiv_id, title from analytics.papers where arxiv_id = 'no-such-paper'",
                       map="all")
    assert status == 200, body
    assert [c["name"] for c in body["columns"]] == ["arxiv_id", "title"]
    assert body["row_count"] == 0 and body["rows"] == [] and body["on_map"] == 0 and not body["truncated"]


def test_paper_id_rows_and_the_search_functions_work_in_one_line(client: TestClient, sql_settings: Settings) -> None:
    with psycopg.connect(sql_settings.database_url) as conn:
        arxiv_id = conn.execute("select arxiv_id from papers where archive = 'math' and embedding is not null "
                                "order by id limit 1").fetchone()[0]
    # "papers like X published after 2015 in math", drawn on the map
    status, body = run(client, f"select paper_id, title, published from analytics.similar_papers('{arxiv_id}', 20, "
                               "category => 'math', published_from => '2015-01-01')", map="math")
    assert status == 200, body
    assert body["id_column"] == "paper_id" and 0 < body["on_map"] == body["row_count"] <= 20
    for mode in ("by_title('graph', 5)", "by_author('Etingof', 5)", "by_text('automata', 5)"):
        status, body = run(client, f"select * from analytics.search_papers_{mode}")
        assert status == 200 and body["row_count"] > 0, (mode, body)


def test_the_row_limit_stops_an_endless_result(client: TestClient) -> None:
    started = time.monotonic()
    # In the select list the rows stream (in FROM PostgreSQL would gather them all first: the timeout stops it).
    status, body = run(client, "select generate_series(1, 1e10) as n", limit=100)
    assert status == 200 and body["row_count"] == 100 and body["truncated"]
    status, body = run(client, "select generate_series(1, 1e10) as n", limit=10**5)
    assert status == 200 and body["row_count"] == MAX_ROWS and body["limit"] == MAX_ROWS
    assert time.monotonic() - started < 10


def test_the_schema_lists_the_analytics_views_and_the_examples(client: TestClient) -> None:
    body = client.get("/api/sql/schema").json()
    assert body["enabled"] and body["max_rows"] == MAX_ROWS
    names = {o["name"] for o in body["objects"]}
    assert {"papers", "map_points", "search_papers_by_vector", "similar_papers", "search_papers_by_title"} <= names
    assert all(o["name"] not in ("load_runs", "saved_views") for o in body["objects"])
    assert len(body["examples"]) >= 10
    for example in body["examples"][:6]:  # the docs' examples run in the panel as they are
        status, result = run(client, example["sql"])
        assert status == 200, (example["title"], result)


def test_the_panel_is_off_without_the_setting_or_the_role(mapped_10k: Settings) -> None:
    with TestClient(app=create_app(mapped_10k)) as off:  # DATABASE_URL set: `auto` is off
        assert off.post("/api/sql", json={"sql": "select 1"}).status_code == 403
        assert off.get("/api/sql/schema").json()["enabled"] is False
    on_without_role = dataclasses.replace(mapped_10k, sql_enabled="on", sql_password=None)
    with TestClient(app=create_app(on_without_role)) as off:
        assert off.post("/api/sql", json={"sql": "select 1"}).status_code == 403


def test_the_embedded_demo_has_the_panel_on_and_compose_off() -> None:
    assert Settings(database_url=None).sql_panel_on
    assert not Settings(database_url="postgresql://x@y/z").sql_panel_on
    compose = (Path(__file__).parents[1] / "compose.yaml").read_text()
    assert "ATLAS_SQL_ENABLED: ${ATLAS_SQL_ENABLED:-off}" in compose


# ---- what is refused ----------------------------------------------------------------------------------
HOSTILE = {
    "insert": ("insert into analytics.papers (arxiv_id) values ('x')", "cannot insert into view"),
    "update": ("update analytics.papers set title = 'x'", "cannot update view"),
    "delete": ("delete from analytics.categories", "permission denied for view categories"),
    "write in a CTE": ("with d as (delete from analytics.papers returning 1) select * from d", "cannot delete"),
    "lock": ("lock table analytics.papers", "permission denied"),
    "create table": ("create table analytics.scratch (i integer)", "read-only transaction"),
    "drop view": ("drop view analytics.papers", "read-only transaction"),
    "alter": ("alter view analytics.papers rename to scratch", "read-only transaction"),
    "set role": ("set role pg_read_server_files", "permission denied to set role"),
    "set_config role": ("select set_config('role', 'pg_read_server_files', true)", "permission denied to set role"),
    "set session authorization": ("set session authorization pg_read_server_files", "permission denied"),
    "copy to program": ("copy (select 1) to program 'touch /tmp/atlas-sql-pwned'", "program"),
    "pg_read_file": ("select pg_read_file('/etc/passwd')", "permission denied"),
    "the app's tables": ("select * from public.papers", "permission denied"),
    "the load history": ("select * from public.load_runs", "permission denied"),
    "the app's functions": ("select * from public.search_papers_by_text('graph', 5)", "permission denied"),
    "two statements": ("select 1; delete from analytics.papers", "multiple commands"),
    "two selects": ("select 1; select 2", "multiple commands"),
    "not a query": ("set statement_timeout = 0", "returned no rows"),
    "a syntax error": ("selec 1", "syntax error"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_query_is_refused_with_the_database_message(client: TestClient, sql_settings: Settings,
                                                               name: str) -> None:
    sql, message = HOSTILE[name]
    before = counts(sql_settings)
    status, body = run(client, sql, map="all")
    assert status == 400, body
    assert message in body["detail"], body
    assert counts(sql_settings) == before
    assert not Path("/tmp/atlas-sql-pwned").exists()
    # the connection it ran on is clean for the next query
    status, body = run(client, "select current_user as who, current_setting('transaction_read_only') as ro, "
                               "current_setting('statement_timeout') as timeout")
    assert status == 200 and body["rows"] == [[SQL_RUNNER_ROLE, "on", f"{TIMEOUT_MS}ms"]], body


@pytest.mark.parametrize("sql", ["select pg_sleep(60)", "select count(*) from generate_series(1, 1e10)",
                                 "select * from generate_series(1, 1e10)"])
def test_a_slow_query_is_cancelled_at_the_statement_timeout(client: TestClient, sql: str) -> None:
    started = time.monotonic()
    status, body = run(client, sql)
    elapsed = time.monotonic() - started
    # the timeout, or the temporary file limit when the rows spill to disk first
    assert status == 400 and ("statement timeout" in body["detail"] or "temp_file_limit" in body["detail"]), body
    assert elapsed < TIMEOUT_MS / 1000 + 3


def test_a_100_kb_query_is_refused_before_the_database(client: TestClient) -> None:
    sql = "select 1 as x" + " " * 100_000
    status, body = run(client, sql)
    # the body limit (ATLAS_API_MAX_BODY_BYTES, 64 KiB) answers before the handler reads a byte of it
    assert status == 413, body
    status, body = run(client, "select 1 as x" + " " * 30_000)  # under the body limit, over the query limit
    assert status == 400 and "sql" in str(body).lower()


def test_the_runner_role_sessions_are_bounded(sql_settings: Settings) -> None:
    from app.core.roles import role_url

    with psycopg.connect(role_url(sql_settings.database_url, SQL_RUNNER_ROLE, SQL_PASSWORD)) as conn:
        settings = dict(conn.execute(
            "select name, setting || coalesce(unit, '') from pg_settings where name in "
            "('default_transaction_read_only', 'statement_timeout', 'work_mem', 'temp_file_limit', 'search_path')"
        ).fetchall())
        assert settings["default_transaction_read_only"] == "on"
        assert settings["statement_timeout"] == f"{TIMEOUT_MS}ms"
        assert settings["work_mem"] == "16384kB" and settings["temp_file_limit"] == "65536kB"
        assert settings["search_path"] == "analytics, public"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("set temp_file_limit = '10GB'")
