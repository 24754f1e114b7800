"""Security promises (docs/security.md names the test behind each).

- Least privilege: the API connects as atlas_api, which reads and runs the search functions but
  cannot write or change the schema; the ETL commands connect as atlas_etl, which loads and rebuilds
  indexes but cannot create schemas, databases or roles. (atlas_reader: tests/test_analytics.py.)
- User input never becomes SQL text: the server's own statement log shows it only as parameters.
- Every API connection runs under the statement timeout; every parameter is bounded.
- Secrets (passwords, API keys) are never logged, printed or returned.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
from litestar.testing import TestClient
from private_server import free_port, sample_slice
from psycopg import sql

from app.api import create_app
from app.cli import cmd_settings
from app.core.roles import API_ROLE, ETL_ROLE, role_url, settings_for_api, settings_for_etl, setup_roles
from app.core.settings import Settings
from etl.load import LoadOptions, load_sources

REPO = Path(__file__).resolve().parent.parent
API_PASSWORD = "api-test-password-Zq81"
ETL_PASSWORD = "etl-test-password-Wv27"


@pytest.fixture(scope="module")
def roles_db(
    pg_admin_url: str, template_database: str, base_settings: Settings, tmp_path_factory
) -> Iterator[Settings]:
    """A database loaded by atlas_etl (300 papers with vectors), with atlas_api and atlas_etl set up."""
    from conftest import fresh_database

    folder = tmp_path_factory.mktemp("roles")
    with fresh_database(pg_admin_url, template_database, base_settings, "atlas_roles", folder,
                        api_password=API_PASSWORD, etl_password=ETL_PASSWORD) as settings:
        yield from _loaded_roles_db(settings, base_settings, folder)


def _loaded_roles_db(settings: Settings, base_settings: Settings, folder: Path) -> Iterator[Settings]:
    setup_roles(settings)  # as `atlas db upgrade` does
    vectors = folder / "slice.all-MiniLM-L6-v2.f16.npy"
    shared = base_settings.shared_data_dir
    np.save(vectors, np.load(shared / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[:300])
    # Into the empty table the load drops and rebuilds the indexes of papers: only an owner may.
    summary = load_sources(settings_for_etl(settings), LoadOptions(
        sources=[sample_slice(folder / "slice.jsonl", 300)], embeddings=vectors, progress=False))
    assert summary.loaded == 300 and summary.indexes_rebuilt
    yield settings


def connect_as(settings: Settings, role: str, password: str) -> psycopg.Connection:
    return psycopg.connect(role_url(settings.database_url, role, password), autocommit=True)


# ---- least privilege --------------------------------------------------------------------------------
API_REFUSED = [
    "insert into papers (arxiv_id, title, abstract, main_category) values ('x', 'x', 'x', 'cs.AI')",
    "update papers set title = 'x'",
    "delete from paper_neighbors",
    "truncate map_tiles",
    "create table public.scratch (i integer)",
    "create temporary table scratch (i integer)",
    "create schema scratch",
    "create index scratch on papers (title)",
    "alter table papers add column scratch integer",
    "drop table maps",
    "create function public.scratch() returns integer language sql return 1",
    "select * from alembic_version",
    "select * from load_runs",
    "call apply_analytics_privileges('atlas_api')",
    "create role scratch",
]


@pytest.mark.parametrize("statement", API_REFUSED)
def test_the_api_role_can_neither_write_nor_change_the_schema(roles_db: Settings, statement: str) -> None:
    with connect_as(roles_db, API_ROLE, API_PASSWORD) as conn:
        # Out of the read-only default first: the privileges themselves must refuse.
        conn.execute("set default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_the_api_role_reads_and_runs_the_search_functions(roles_db: Settings) -> None:
    with connect_as(roles_db, API_ROLE, API_PASSWORD) as conn:
        arxiv_id = conn.execute("select arxiv_id from papers order by id limit 1").fetchone()[0]
        assert len(conn.execute("select * from similar_papers(%s, 5)", (arxiv_id,)).fetchall()) == 5
        assert conn.execute("select count(*) from search_papers_by_text('quantum', 5)").fetchone()[0] > 0
        assert conn.execute("select count(*) from search_papers_by_title('the', 5)").fetchone()[0] > 0
        assert conn.execute("show default_transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("update papers set title = title")


ETL_REFUSED = [
    "create schema scratch",
    "create database scratch",
    "create role scratch",
    "select * from alembic_version",
    "update alembic_version set version_num = 'x'",
    "insert into arxiv_categories (code) values ('x.Y')",
]


@pytest.mark.parametrize("statement", ETL_REFUSED)
def test_the_etl_role_cannot_create_schemas_databases_roles_or_touch_the_migrations(
    roles_db: Settings, statement: str
) -> None:
    with connect_as(roles_db, ETL_ROLE, ETL_PASSWORD) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_etl_role_writes_its_tables_and_rebuilds_their_indexes(roles_db: Settings) -> None:
    with connect_as(roles_db, ETL_ROLE, ETL_PASSWORD) as conn, conn.transaction():
        conn.execute("create temporary table staging (i integer)")
        conn.execute("update papers set changed_at = changed_at where id in (select id from papers limit 3)")
        conn.execute("reindex index papers_main_category")
        conn.execute("analyze papers")
        owners = dict(conn.execute(
            "select relname, pg_get_userbyid(relowner) from pg_class where relnamespace = 'public'::regnamespace "
            "and relkind = 'r'").fetchall())
    assert owners["papers"] == owners["maps"] == ETL_ROLE and owners["alembic_version"] != ETL_ROLE


def test_etl_commands_and_the_api_connect_as_their_roles(roles_db: Settings, tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=roles_db.database_url, ATLAS_ETL_PASSWORD="not-its-password",
               ATLAS_DATA_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "app.cli", "maps", "list"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and f'user "{ETL_ROLE}"' in result.stderr  # it tried atlas_etl, not the owner
    assert settings_for_api(roles_db).database_url.startswith(f"postgresql://{API_ROLE}:")
    with TestClient(app=create_app(roles_db)) as client:
        assert client.get("/api/health").status_code == 200
        # a semantic search reads the embedding space too: as atlas_api, like every query of the API
        assert client.get("/api/search", params={"q": "graphs", "mode": "semantic"}).json()["count"] > 0
        with psycopg.connect(roles_db.database_url) as admin:
            users = {r[0] for r in admin.execute(
                "select usename from pg_stat_activity where application_name = 'atlas-api' "
                "and datname = current_database()")}
        assert users == {API_ROLE}


# ---- CVE-2018-1058: no look-alike function can run as a privileged role -------------------------------
# Built-ins that the SQL calls with untyped literals or that a psql user types; each planted
# look-alike would make a superuser role of its own if it ever ran as a superuser.
LOOK_ALIKES = {
    "has_schema_privilege": ("a text, b text, c text", "boolean", "pg_catalog.has_schema_privilege(a::name, b, c)"),
    "to_tsvector": ("a text, b text", "tsvector", "pg_catalog.to_tsvector(a::regconfig, b)"),
    "plainto_tsquery": ("a text, b text", "tsquery", "pg_catalog.plainto_tsquery(a::regconfig, b)"),
    "websearch_to_tsquery": ("a text, b text", "tsquery", "pg_catalog.websearch_to_tsquery(a::regconfig, b)"),
    "setweight": ("a tsvector, b text", "tsvector", "pg_catalog.setweight(a, b::\"char\")"),
    "lower": ("a character varying", "text", "pg_catalog.lower(a::text)"),
    "array_length": ("a text[], b bigint", "integer", "pg_catalog.array_length(a, b::integer)"),
    "format": ("a text, b text", "text", "pg_catalog.format(a, b)"),
}
SEARCH_CALLS = [
    "select count(*) from search_papers_by_title('the', 5)",
    "select count(*) from search_papers_by_text('quantum graphs', 5)",
    "select count(*) from search_papers_by_author('smith', 5)",
    "select count(*) from search_papers_by_vector((select embedding from papers where embedding is not null "
    "limit 1), 5, category => 'cs')",
    "select count(*) from search_papers_hybrid('graphs', (select embedding from papers where embedding is not null "
    "limit 1), 5)",
    "select count(*) from similar_papers((select arxiv_id from papers limit 1), 5)",
]


def plant(name: str, schema: str = "public") -> str:
    arguments, returns, real = LOOK_ALIKES[name]
    return (
        f"create function {schema}.{name}({arguments}) returns {returns} language plpgsql as $$ begin "
        f"if not exists (select from pg_catalog.pg_roles where rolname = 'atlas_planted_{name}') then "
        f"execute 'create role atlas_planted_{name} superuser'; end if; return {real}; end $$"
    )


def role_snapshot(conn: psycopg.Connection) -> tuple[list, list]:
    roles = conn.execute("select rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                         "from pg_roles order by rolname").fetchall()
    members = conn.execute("select roleid::regrole::text, member::regrole::text from pg_auth_members "
                           "order by 1, 2").fetchall()
    return roles, members


@pytest.mark.parametrize("role, password", [(ETL_ROLE, ETL_PASSWORD), (API_ROLE, API_PASSWORD)])
@pytest.mark.parametrize("schema", ["public", "analytics", "pg_catalog"])
def test_no_app_role_can_create_in_a_schema_on_a_privileged_search_path(
    roles_db: Settings, role: str, password: str, schema: str
) -> None:
    with connect_as(roles_db, role, password) as conn:
        conn.execute("set default_transaction_read_only = off")  # the privileges must refuse
        for name in ("has_schema_privilege", "to_tsvector", "lower"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(plant(name, schema))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"create table {schema}.scratch (i integer)")


def test_the_loader_stages_in_a_schema_on_no_search_path(roles_db: Settings) -> None:
    with psycopg.connect(roles_db.database_url) as admin:
        paths = [row[0] for row in admin.execute(
            "select unnest(rolconfig) from pg_roles where rolname like 'atlas%%'").fetchall()]
        assert not [p for p in paths if "atlas_staging" in p]
        assert "atlas_staging" not in admin.execute("show search_path").fetchone()[0]
    with connect_as(roles_db, ETL_ROLE, ETL_PASSWORD) as conn:
        conn.execute("create table atlas_staging.scratch (i integer)")
        conn.execute("drop table atlas_staging.scratch")
        assert "atlas_staging" not in conn.execute("show search_path").fetchone()[0]
    with connect_as(roles_db, API_ROLE, API_PASSWORD) as conn:
        conn.execute("set default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table atlas_staging.scratch (i integer)")


@contextmanager
def planted(roles_db: Settings, names: list[str]) -> Iterator[psycopg.Connection]:
    """Look-alikes planted in public by the superuser itself (as if a role had CREATE there): the
    defence in depth of pinned search paths and typed literals. Removed afterwards, roles included."""
    admin = psycopg.connect(roles_db.database_url, autocommit=True)
    try:
        for name in names:
            admin.execute(plant(name))
        yield admin
    finally:
        for name in names:
            arguments = LOOK_ALIKES[name][0]
            types = ", ".join(part.split(" ", 1)[1] for part in arguments.split(", "))
            admin.execute(f"drop function if exists public.{name}({types})")
            admin.execute(f"drop role if exists atlas_planted_{name}")
        admin.close()


def test_attack_a_function_planted_by_the_loader_never_runs_at_upgrade(roles_db: Settings) -> None:
    """Issue 16, first attack: atlas_etl plants public.has_schema_privilege(text, text, text), then a
    plain `atlas db upgrade` ran it as superuser through apply_analytics_privileges."""
    from app.core.migrate import upgrade_database

    with psycopg.connect(roles_db.database_url, autocommit=True) as admin:
        before = role_snapshot(admin)
    with connect_as(roles_db, ETL_ROLE, ETL_PASSWORD) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(plant("has_schema_privilege"))
        # where it may create, the look-alike is on nobody's search path
        conn.execute(plant("has_schema_privilege", "atlas_staging"))
    try:
        with planted(roles_db, list(LOOK_ALIKES)) as admin:
            upgrade_database(roles_db, roles=True)  # `atlas db upgrade`
            assert role_snapshot(admin) == before
    finally:
        with psycopg.connect(roles_db.database_url, autocommit=True) as admin:
            admin.execute("drop function atlas_staging.has_schema_privilege(text, text, text)")
            admin.execute("drop role if exists atlas_planted_has_schema_privilege")


def test_attack_a_planted_to_tsvector_never_runs_in_a_superusers_search(roles_db: Settings) -> None:
    """Issue 16, second attack: a planted public.to_tsvector(text, text) took over
    search_papers_by_title when an administrator searched from psql."""
    with psycopg.connect(roles_db.database_url, autocommit=True) as admin:
        before = role_snapshot(admin)
        assert admin.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]
    with connect_as(roles_db, ETL_ROLE, ETL_PASSWORD) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(plant("to_tsvector"))
    with planted(roles_db, list(LOOK_ALIKES)) as admin:
        for statement in SEARCH_CALLS:  # as a superuser, with its default search_path (public on it)
            admin.execute(statement).fetchall()
        assert role_snapshot(admin) == before


def test_every_function_pins_its_search_path(roles_db: Settings) -> None:
    with psycopg.connect(roles_db.database_url) as admin:
        loose = admin.execute(
            """
            select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
             where n.nspname in ('public', 'analytics') and p.prokind in ('f', 'p') and p.prosqlbody is null
               and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass
                               and d.objid = p.oid and d.deptype = 'e')
               and not exists (select from unnest(p.proconfig) s where s like 'search_path=pg_catalog, %%')
            """
        ).fetchall()
    assert loose == []


# ---- statement timeout, bounded parameters -------------------------------------------------------------
def test_every_api_connection_has_the_statement_timeout(roles_db: Settings) -> None:
    settings = dataclasses.replace(roles_db, api_statement_timeout_ms=1234, api_pool_size=3)
    with TestClient(app=create_app(settings)) as client:
        assert client.get("/api/health").status_code == 200
    with psycopg.connect(roles_db.database_url) as admin:
        config = admin.execute("select rolconfig from pg_roles where rolname = %s", (API_ROLE,)).fetchone()[0]
    assert "statement_timeout=5000" in config  # the role's own default, besides each pooled connection's SET

    import asyncio

    from app.core.pools import make_database

    async def timeouts() -> set[str]:
        db = make_database(settings_for_api(settings))
        await db.open(wait=True)
        try:
            async with db.primary.connection() as a, db.primary.connection() as b, db.primary.connection() as c:
                return {(await (await conn.execute("show statement_timeout")).fetchone())["statement_timeout"]
                        for conn in (a, b, c)}
        finally:
            await db.close()

    assert asyncio.run(timeouts()) == {"1234ms"}


def test_every_parameter_of_the_api_is_bounded(roles_db: Settings) -> None:
    with TestClient(app=create_app(dataclasses.replace(roles_db, llm_model="unused"))) as client:
        schema = client.get("/schema/openapi.json").json()
        unbounded = []
        for path, item in schema["paths"].items():
            for method, operation in item.items():
                for parameter in operation.get("parameters", []):
                    if not bounded(parameter["schema"], schema):
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
        assert not unbounded, f"parameters without bounds: {unbounded}"
        # Request bodies: every field of every body, walked through the schema.
        bodies = []
        for path, item in schema["paths"].items():
            for method, operation in item.items():
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    bodies += [f"{method.upper()} {path} {field}"
                               for field in unbounded_fields(media["schema"], schema)]
        assert not bodies, f"body fields without bounds: {bodies}"
        assert len([p for p, i in schema["paths"].items() for o in i.values() if "requestBody" in o]) >= 3
        # Above ATLAS_API_MAX_BODY_BYTES a body is refused before it is parsed.
        big = b'{"text": "' + b"x" * 70_000 + b'"}'
        response = client.post("/api/place", content=big, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert client.post("/api/place", json={"text": "graphs", "map": "../etc"}).status_code == 400
        # Bodies: their text and lists are bounded by the handlers, with a reason.
        assert client.post("/api/place", json={"text": "x" * 10_001}).status_code == 400
        assert client.post("/api/ask", json={"question": "x" * 1001}).status_code == 400
        assert client.post("/api/export", json={"keys": list(range(1, 5002))}).status_code == 400


def unbounded_fields(body: dict, schema: dict, prefix: str = "") -> list[str]:
    """The fields of a request body schema (objects walked, arrays by their items) with no bound."""
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].split("/")[-1]]
    if body.get("type") == "object":
        return [name for field, sub in body.get("properties", {}).items()
                for name in unbounded_fields(sub, schema, f"{prefix}{field}.")]
    if body.get("type") == "array":
        return ([prefix.rstrip(".")] if "maxItems" not in body else []) + unbounded_fields(
            body["items"], schema, f"{prefix}[].")
    if "oneOf" in body or "anyOf" in body:
        return [name for sub in body.get("oneOf", body.get("anyOf")) if sub.get("type") != "null"
                for name in unbounded_fields(sub, schema, prefix)]
    return [] if bounded(body, schema) else [prefix.rstrip(".")]


def bounded(parameter: dict, schema: dict) -> bool:
    if "$ref" in parameter:
        parameter = schema["components"]["schemas"][parameter["$ref"].split("/")[-1]]
    kinds = [s.get("type") for s in parameter.get("oneOf", [parameter])]
    if "enum" in parameter or parameter.get("type") == "boolean":
        return True
    if "integer" in kinds or "number" in kinds:
        return "maximum" in parameter
    if any(s.get("format") == "date" for s in parameter.get("oneOf", [parameter])):
        return True
    return "maxLength" in parameter or bool(re.fullmatch(r"\^.*\{\d+,\d+\}\$", parameter.get("pattern", "")))


# ---- no SQL built from user input ------------------------------------------------------------------------
MARKER = "zqxjkmarker"


def server_log(conn: psycopg.Connection) -> tuple[str, int]:
    """The server's log file and its size, read through the server (superuser): the embedded server
    writes server.log in its data directory, a server with logging_collector names its current file."""
    path = conn.execute("select coalesce(pg_current_logfile('stderr'), 'server.log')").fetchone()[0]
    return path, conn.execute("select (pg_stat_file(%s)).size", (path,)).fetchone()[0]


def test_user_input_reaches_the_database_only_as_parameters(roles_db: Settings) -> None:
    quote = "' or 1=1; drop table papers; --"
    with psycopg.connect(roles_db.database_url, autocommit=True) as admin:
        path, start = server_log(admin)
        admin.execute(sql.SQL("alter database {} set log_statement = 'all'").format(sql.Identifier(admin.info.dbname)))
        try:
            with TestClient(app=create_app(roles_db)) as client:  # new connections: they log every statement
                for mode in ("title", "author", "keyword"):
                    client.get("/api/search", params={"q": f"{MARKER}{quote}", "mode": mode,
                                                      "category": f"{MARKER}a"})
                client.get("/api/search", params={"q": "graph", "mode": "keyword", "map": f"{MARKER}-map"})
                client.get(f"/api/maps/{MARKER}/tiles/0/0/0")
                client.get(f"/api/maps/{MARKER}/topics")
                client.get(f"/api/maps/{MARKER}/points", params={"bbox": "0,0,1,1", "zoom": 1})
                client.post("/api/place", json={"text": "graphs", "map": f"{MARKER}{quote}"})
                client.post("/api/export", json={"keys": [1, 2, 3]})
                assert client.get("/api/search", params={"q": "graphs", "mode": "keyword"}).status_code == 200
        finally:
            admin.execute(sql.SQL("alter database {} reset log_statement").format(sql.Identifier(admin.info.dbname)))
        end = server_log(admin)[1]
        log = admin.execute("select pg_read_file(%s, %s, %s)", (path, start, end - start)).fetchone()[0]
    statements = [line for line in log.splitlines() if re.search(r"LOG:\s+(statement|execute)", line)]
    parameters = [line for line in log.splitlines() if re.search(r"DETAIL:\s+Parameters:", line, re.I)]
    assert len(statements) > 10 and any(MARKER in line for line in parameters), "the log shows no API traffic"
    assert not [line for line in statements if MARKER in line or "drop table" in line]


# ---- secrets ----------------------------------------------------------------------------------------------
def test_secrets_are_never_logged_printed_or_returned(roles_db: Settings, tmp_path: Path, capsys) -> None:
    admin_password = psycopg.conninfo.conninfo_to_dict(roles_db.database_url)["password"]
    replica_secret, key_secret, reader_secret = "replica-secret-Jh47", "sk-key-secret-Pp03", "reader-secret-Mm55"
    dead_port = free_port()
    env = dict(
        os.environ, DATABASE_URL=roles_db.database_url, ATLAS_API_PASSWORD=API_PASSWORD,
        ATLAS_ETL_PASSWORD=ETL_PASSWORD, ATLAS_READER_PASSWORD=reader_secret, OPENAI_API_KEY=key_secret,
        ATLAS_READ_REPLICA_URLS=f"postgresql://{API_ROLE}:{replica_secret}@127.0.0.1:{dead_port}/atlas",
        ATLAS_DATA_DIR=str(tmp_path), ATLAS_API_DB_WAIT_SECONDS="1",
    )
    secrets = [admin_password, API_PASSWORD, ETL_PASSWORD, replica_secret, key_secret, reader_secret]
    cmd_settings(argparse.Namespace(), Settings.from_env(env))  # `atlas settings`
    printed = capsys.readouterr().out
    assert "ATLAS_READ_REPLICA_URLS = postgresql://atlas_api:***@" in printed
    seen = [printed]

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/api/health", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "atlas serve did not start"
                time.sleep(0.2)
        arxiv_id = psycopg.connect(roles_db.database_url).execute("select arxiv_id from papers limit 1").fetchone()[0]
        for path in ["/api/health", f"/api/papers/{arxiv_id}", "/api/search?q=graphs&mode=keyword",
                     "/api/search?q=x&top_k=0", "/schema/openapi.json",
                     "/api/maps/none/tiles/0/0/0", "/api/categories"]:
            response = httpx.get(base + path, timeout=30)
            assert response.status_code < 500 or response.status_code == 503, (path, response.text)
            seen.append(response.text + str(response.headers))
        response = httpx.post(base + "/api/ask", json={"question": "what is a graph?"}, timeout=30)
        seen.append(response.text + str(response.headers))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    seen.append(server.stdout.read())
    assert "replica" in seen[-1]  # the dead replica was reported, without its URL's password
    leaked = [secret for secret in secrets if any(secret in text for text in seen)]
    assert not leaked, f"secrets in logs, output or responses: {leaked}"


def test_every_test_that_docs_security_names_exists() -> None:
    """docs/security.md says which test proves each promise: those tests must exist."""
    named = set(re.findall(r"\b(test_\w+)", (REPO / "docs" / "security.md").read_text()))
    defined = {name for path in (REPO / "tests").glob("test_*.py")
               for name in re.findall(r"^def (test_\w+)", path.read_text(), flags=re.M)}
    files = {path.stem for path in (REPO / "tests").glob("test_*.py")}
    assert len(named) > 15 and named - defined - files == set()


# ---- every privilege of the app's roles, against a reviewed list ---------------------------------------
PRIVILEGES_FILE = REPO / "tests" / "data" / "privileges.txt"
PRIVILEGES = """
select r.rolname || ' database ' || p.privilege_type
  from pg_roles r, lateral (select (aclexplode(datacl)).* from pg_database where datname = current_database()) p
 where p.grantee = r.oid
union all
select r.rolname || ' schema ' || n.nspname || ' ' || p.privilege_type
  from pg_namespace n, lateral aclexplode(n.nspacl) p join pg_roles r on r.oid = p.grantee
union all
select r.rolname || ' owns schema ' || n.nspname from pg_namespace n join pg_roles r on r.oid = n.nspowner
union all
select r.rolname || ' ' || case c.relkind when 'S' then 'sequence' when 'v' then 'view'
                                          when 'm' then 'materialized view' else 'table' end
       || ' ' || n.nspname || '.' || c.relname || ' ' || p.privilege_type
  from pg_class c join pg_namespace n on n.oid = c.relnamespace, lateral aclexplode(c.relacl) p
  join pg_roles r on r.oid = p.grantee
 where c.relowner <> r.oid and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
union all
select r.rolname || ' owns ' || n.nspname || '.' || c.relname
  from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_roles r on r.oid = c.relowner
 where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') and n.nspname not in ('pg_catalog', 'information_schema')
union all
select r.rolname || ' routine ' || p.oid::regprocedure::text || ' ' || a.privilege_type
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace, lateral aclexplode(p.proacl) a
  join pg_roles r on r.oid = a.grantee
 where n.nspname not in ('pg_catalog', 'information_schema')
union all
select r.rolname || ' default ' || d.defaclobjtype::text || ' in '
       || coalesce(d.defaclnamespace::regnamespace::text, '*') || ' ' || a.privilege_type
  from pg_default_acl d, lateral aclexplode(d.defaclacl) a join pg_roles r on r.oid = a.grantee
union all
select r.rolname || ' member of ' || m.roleid::regrole::text
  from pg_auth_members m join pg_roles r on r.oid = m.member
union all
select r.rolname || ' attribute ' || attribute
  from pg_roles r, lateral (values ('superuser', r.rolsuper), ('createrole', r.rolcreaterole),
                                   ('createdb', r.rolcreatedb), ('replication', r.rolreplication),
                                   ('bypassrls', r.rolbypassrls), ('inherit', r.rolinherit),
                                   ('login', r.rolcanlogin)) a(attribute, holds)
 where a.holds
union all
select r.rolname || ' setting ' || s from pg_roles r, unnest(r.rolconfig) s
 where s not like 'statement_timeout=%%'
"""


def role_privileges(conn: psycopg.Connection) -> list[str]:
    """One line per privilege of atlas_etl, atlas_api, atlas_reader (and PUBLIC's on the app's objects)."""
    rows = conn.execute(f"select * from ({PRIVILEGES}) p(line)").fetchall()
    return sorted({line for (line,) in rows if re.match(r"(atlas_etl|atlas_api|atlas_reader) ", line)})


def test_the_privileges_of_the_app_roles_match_the_reviewed_list(roles_db: Settings) -> None:
    """A new grant is a visible diff: regenerate with ATLAS_WRITE_PRIVILEGES=1 and review it."""
    from test_analytics import set_up_reader

    set_up_reader(roles_db)
    with psycopg.connect(roles_db.database_url) as admin:
        found = role_privileges(admin)
    if os.environ.get("ATLAS_WRITE_PRIVILEGES"):
        PRIVILEGES_FILE.write_text("\n".join(found) + "\n")
    reviewed = PRIVILEGES_FILE.read_text().splitlines()
    added, removed = sorted(set(found) - set(reviewed)), sorted(set(reviewed) - set(found))
    assert not added and not removed, f"privileges not in tests/data/privileges.txt: {added}; gone: {removed}"


# ---- secret files, argv, the API's role ------------------------------------------------------------------
def test_secret_files_are_0600_from_their_first_byte_under_umask_000(tmp_path: Path) -> None:
    """initdb's password file and the superuser's, watched while the cluster is created with umask 000."""
    import threading

    from app.core.embedded_server import EmbeddedPostgres
    from app.core.roles import reader_password

    with server_folder_for_test() as data_dir:
        seen: dict[str, set[int]] = {}
        done = threading.Event()

        def look() -> None:
            for path in [data_dir / ".initdb-password", data_dir / "superuser-password",
                         data_dir / "reader-password"]:
                try:
                    mode = os.stat(path).st_mode & 0o777
                except FileNotFoundError:
                    continue
                seen.setdefault(path.name, set()).add(mode)

        def watch() -> None:
            while not done.is_set():
                look()

        watcher = threading.Thread(target=watch)
        previous = os.umask(0)
        watcher.start()
        try:
            settings = Settings(data_dir=data_dir, db_port=free_port())
            assert EmbeddedPostgres(settings).init()
            reader_password(settings)  # generated into the data dir
        finally:
            done.set()
            watcher.join()
            os.umask(previous)
        look()  # once more: on a busy machine the watcher may not have run after the last file was written
        assert seen.get("superuser-password") == {0o600}, seen
        assert seen.get("reader-password") == {0o600}, seen
        assert seen.get(".initdb-password", {0o600}) == {0o600}, seen


@contextmanager
def server_folder_for_test() -> Iterator[Path]:
    from conftest import server_folder

    with server_folder() as folder:
        yield folder


def test_no_password_in_any_process_argv(roles_db: Settings, tmp_path: Path) -> None:
    """`atlas db psql` hands psql the password in its environment: /proc/*/cmdline never shows it."""
    admin_password = psycopg.conninfo.conninfo_to_dict(roles_db.database_url)["password"]
    env = dict(os.environ, DATABASE_URL=roles_db.database_url, ATLAS_DATA_DIR=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "db", "psql", "-c", "select pg_sleep(2)"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    command_lines, deadline = [], time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with suppress(OSError):
                command_lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        time.sleep(0.05)
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert any("psql" in line and "pg_sleep" in line for line in command_lines), "psql was never seen running"
    assert not [line for line in command_lines if admin_password in line]


def test_atlas_serve_refuses_to_run_as_the_owner_unless_allowed(roles_db: Settings, tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=roles_db.database_url, ATLAS_DATA_DIR=str(tmp_path))
    env.pop("ATLAS_API_PASSWORD", None)
    result = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--port", str(free_port())], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "superuser" in result.stderr and "--allow-owner" in result.stderr


# ---- settings that reach SQL or atlas.conf; headers; the API pages; the rate limit --------------------------
@pytest.mark.parametrize("overrides, named", [
    ({"db_name": 'atlas"; drop database postgres; --'}, "ATLAS_DB_NAME"),
    ({"db_name": "x" * 64}, "ATLAS_DB_NAME"),
    ({"pg_work_mem": "64MB'\nlisten_addresses = '*"}, "ATLAS_PG_WORK_MEM"),
    ({"pg_shared_buffers": "1GB' #"}, "ATLAS_PG_SHARED_BUFFERS"),
])
def test_hostile_database_settings_are_a_clear_error(tmp_path: Path, overrides: dict, named: str) -> None:
    from app.core.embedded_server import EmbeddedDatabaseError, EmbeddedPostgres

    settings = dataclasses.replace(Settings(data_dir=tmp_path, db_port=free_port()), **overrides)
    with pytest.raises(EmbeddedDatabaseError, match=named):
        EmbeddedPostgres(settings).start()
    assert not (tmp_path / "pgdata").exists() or not any((tmp_path / "pgdata").iterdir())


def test_every_answer_has_the_security_headers_and_the_docs_load_no_third_party_script(
    base_settings: Settings, tmp_path: Path
) -> None:
    unreachable = dataclasses.replace(base_settings, database_url=f"postgresql://x:y@127.0.0.1:{free_port()}/none",
                                      api_db_wait_seconds=0.5, data_dir=tmp_path)
    with TestClient(app=create_app(unreachable)) as client:
        for response in [client.get("/schema/openapi.json"), client.get("/"), client.get("/api/health"),
                         client.get("/api/search", params={"q": "x" * 600}),
                         client.post("/api/place", content=b"{" + b" " * 70_000 + b"}",
                                     headers={"content-type": "application/json"})]:
            assert response.headers["x-content-type-options"] == "nosniff", response.url
            assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
            csp = response.headers["content-security-policy"]
            assert "script-src 'self';" in csp and "connect-src 'self'" in csp and "unsafe-eval" not in csp
        for page in ["/schema/swagger", "/schema/redoc", "/schema/elements", "/schema/rapidoc"]:
            assert client.get(page).status_code == 404
        for page in ["/schema", "/schema/openapi.json"]:
            response = client.get(page)
            assert "<script" not in response.text and "cdn." not in response.text


def test_the_rate_limit_of_the_model_endpoints_is_per_client_and_off_by_default() -> None:
    import asyncio

    from app.api.security import ModelRateLimit, uses_a_model

    assert Settings().api_rate_limit_per_minute == 0
    now = [0.0]
    answered: list[int] = []

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    limit = ModelRateLimit(app, per_minute=2, clock=lambda: now[0])

    async def call(path: str, query: bytes = b"", client: str = "10.0.0.1") -> None:
        async def send(message) -> None:
            if message["type"] == "http.response.start":
                answered.append(message["status"])
        await limit({"type": "http", "path": path, "query_string": query, "client": (client, 1)}, None, send)

    async def scenario() -> None:
        for _ in range(3):
            await call("/api/place")
        await call("/api/search", b"q=x&mode=keyword")  # no model: never limited
        await call("/api/ask", client="10.0.0.2")  # another client
        now[0] = 61.0
        await call("/api/search", b"q=x&mode=semantic")

    asyncio.run(scenario())
    assert answered == [200, 200, 429, 200, 200, 200]
    assert uses_a_model({"path": "/api/search", "query_string": b"q=x&mode=keyword&rerank=true"})
    assert not uses_a_model({"path": "/api/maps", "query_string": b""})
