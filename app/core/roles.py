"""The login roles of Arxiv Atlas, each with the least it needs:

- atlas_reader: analysts and BI tools. Reads the views and runs the functions of schema `analytics`
  (`apply_analytics_privileges()` in sql/idempotent/070-analytics.sql), nothing else.
- atlas_api: the HTTP API. Reads the app's tables and runs the functions of schema public; it
  cannot write, create anything or change the schema, and its transactions are read-only.
- atlas_sql_runner: the web map's SQL panel (`POST /api/sql`). Reads what atlas_reader reads (schema
  `analytics`), in read-only sessions bounded by statement_timeout, work_mem and temp_file_limit;
  its grants are set up below (`ensure_sql_runner_role`), apart from the other roles.
- atlas_etl: `atlas load`, `embed`, `maps`, `build`. Owns the data tables, may create temporary
  tables and tables in schema atlas_staging (on nobody's search_path); it cannot create in schema
  public (where every privileged role resolves names: CVE-2018-1058), so the indexes of papers that
  loads and builds rebuild are built by the owner through create_paper_index(name)
  (sql/idempotent/090-index-builds.sql). It cannot create schemas, databases or roles, nor touch
  the migration state (alembic_version) or the taxonomy (arxiv_categories).

Roles belong to the whole PostgreSQL cluster and carry a password, so they are created and updated
from here after the migrations (`atlas db upgrade`, `atlas db reader-url`), never inside a
migration. Running any of this twice is harmless; a changed password, timeout or limit applies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from app.core.connections import DatabaseError, database_url
from app.core.embedded_server import write_secret_file
from app.core.settings import Settings

READER_ROLE = "atlas_reader"
READER_PASSWORD_FILE = "reader-password"  # noqa: S105 - the name of a password file, not a password
API_ROLE = "atlas_api"
API_PASSWORD_FILE = "api-password"  # noqa: S105 - the name of a password file, not a password
ETL_ROLE = "atlas_etl"
ETL_PASSWORD_FILE = "etl-password"  # noqa: S105 - the name of a password file, not a password
# Where `atlas load` stages rows: atlas_etl may create here, and the schema is on no role's search_path.
STAGING_SCHEMA = "atlas_staging"
SQL_RUNNER_ROLE = "atlas_sql_runner"
SQL_PASSWORD_FILE = "sql-password"  # noqa: S105 - the name of a password file, not a password
# The SQL panel's queries see schema analytics first; public stays last on the path only for pgvector's
# types, operators and aggregates (avg of halfvec): the role has no right on any table or app function there.
SQL_RUNNER_SEARCH_PATH = "analytics, public"
# Tables the API has no use for: the load history names files on the server.
NOT_FOR_THE_API = ("alembic_version", "load_runs", "paper_index_definitions", "harvest_state", "sql_layer_files",
                   "sql_layer_state")
# Reference data that migrations write and the ETL only reads.
NOT_OWNED_BY_THE_ETL = ("alembic_version", "arxiv_categories", "paper_index_definitions", "sql_layer_files",
                        "sql_layer_state",
                        "saved_views")
# The migrator's own table: no login role of the app reads or writes it.
MIGRATION_STATE = ("alembic_version", "paper_index_definitions", "sql_layer_files", "sql_layer_state")
# Session defaults of the role (a session may change them with SET; the privileges are what stop writes).
READER_SEARCH_PATH = "analytics, public"
# Role attributes that would give a role more than its job; they are turned off on every role here.
_FORBIDDEN_ATTRIBUTES = {
    "rolsuper": "nosuperuser", "rolcreaterole": "nocreaterole", "rolcreatedb": "nocreatedb",
    "rolreplication": "noreplication", "rolbypassrls": "nobypassrls",
}


class RoleError(DatabaseError):
    """A role cannot be set up: a missing setting, a bad value or missing rights."""


class ReaderRoleError(RoleError):
    """The reader role cannot be set up: a missing setting, a bad value or missing rights."""


@dataclass(frozen=True)
class ReaderRoleReport:
    created: bool  # the role did not exist before
    granted: bool  # the analytics schema exists and its privileges were (re)applied


def password_file(settings: Settings, name: str = READER_PASSWORD_FILE) -> Path:
    return settings.data_dir.resolve() / name


def _role_password(settings: Settings, configured: str | None, file_name: str, generate: bool) -> str | None:
    """The configured password; for the embedded server, else the one kept in the data dir (made once)."""
    if configured:
        return configured
    if settings.database_url:
        return None
    path = password_file(settings, file_name)
    if path.exists():
        return path.read_text().strip()
    if not generate:
        return None
    import secrets

    password = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with mode 0600 from the start: never readable by others, not even for a moment.
    write_secret_file(path, password + "\n")
    return password


def reader_password(settings: Settings, *, generate: bool = True) -> str | None:
    """ATLAS_READER_PASSWORD; for the embedded server, else the one kept in the data dir (made once)."""
    return _role_password(settings, settings.reader_password, READER_PASSWORD_FILE, generate)


def api_password(settings: Settings, *, generate: bool = False) -> str | None:
    """ATLAS_API_PASSWORD; for the embedded server, else `$ATLAS_DATA_DIR/api-password`."""
    return _role_password(settings, settings.api_password, API_PASSWORD_FILE, generate)


def etl_password(settings: Settings, *, generate: bool = False) -> str | None:
    """ATLAS_ETL_PASSWORD; for the embedded server, else `$ATLAS_DATA_DIR/etl-password`."""
    return _role_password(settings, settings.etl_password, ETL_PASSWORD_FILE, generate)


def sql_password(settings: Settings, *, generate: bool = False) -> str | None:
    """ATLAS_SQL_PASSWORD; for the embedded server, else `$ATLAS_DATA_DIR/sql-password`."""
    return _role_password(settings, settings.sql_password, SQL_PASSWORD_FILE, generate)


def require_reader_password(settings: Settings) -> str:
    password = reader_password(settings)
    if password is None:
        raise ReaderRoleError(
            "DATABASE_URL is set but ATLAS_READER_PASSWORD is not: set ATLAS_READER_PASSWORD to the password "
            f"that the read-only role {READER_ROLE} should have, then run `atlas db upgrade`"
        )
    return password


def _ensure_login_role(conn: psycopg.Connection, name: str, password: str, connection_limit: int) -> bool:
    """Create or update login role `name` with no special attribute and no membership; True when created."""
    role = sql.Identifier(name)
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone() is not None
    if not exists:
        conn.execute(sql.SQL("create role {} login").format(role))
    flags = conn.execute(
        sql.SQL("select {} from pg_roles where rolname = %s").format(
            sql.SQL(", ").join(sql.Identifier(attribute) for attribute in _FORBIDDEN_ATTRIBUTES)
        ),
        (name,),
    ).fetchone()
    if flags is None:
        raise RoleError(f"role {name} vanished while its attributes were set")
    for keyword, value in zip(_FORBIDDEN_ATTRIBUTES.values(), flags, strict=True):
        if value:
            conn.execute(sql.SQL("alter role {} {}").format(role, sql.SQL(keyword)))
    # Nothing inherited either: a membership (say pg_read_all_data) would reach every table.
    for (granted_role,) in conn.execute(
        "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
        "where m.member = (select oid from pg_roles where rolname = %s)", (name,)
    ).fetchall():
        conn.execute(sql.SQL("revoke {} from {}").format(sql.Identifier(granted_role), role))
    # The password travels already hashed (SCRAM), so it never appears in the server's logs.
    verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    conn.execute(
        sql.SQL("alter role {} login connection limit {} password {}").format(
            role, sql.Literal(connection_limit), sql.Literal(verifier.decode())
        )
    )
    return not exists


def ensure_reader_role(conn: psycopg.Connection, settings: Settings, password: str) -> ReaderRoleReport:
    """Create or update the reader role on `conn`'s server and grant it analytics in this database."""
    role = sql.Identifier(READER_ROLE)
    try:
        created = _ensure_login_role(conn, READER_ROLE, password, settings.reader_connection_limit)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ReaderRoleError(
            f"the database user cannot create or change the role {READER_ROLE} (it needs CREATEROLE): "
            f"{exc.diag.message_primary}"
        ) from exc
    try:
        conn.execute(
            sql.SQL("alter role {} set statement_timeout = {}").format(
                role, sql.Literal(settings.reader_statement_timeout)
            )
        )
    except psycopg.errors.InvalidParameterValue as exc:
        raise ReaderRoleError(
            f"ATLAS_READER_STATEMENT_TIMEOUT={settings.reader_statement_timeout!r} is not a PostgreSQL "
            f"duration (e.g. 60s, 5min): {exc.diag.message_primary}"
        ) from exc
    conn.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(role))
    conn.execute(sql.SQL("alter role {} set search_path = {}").format(role, sql.SQL(READER_SEARCH_PATH)))
    return ReaderRoleReport(created=created, granted=apply_privileges(conn))


def apply_privileges(conn: psycopg.Connection) -> bool:
    """Re-apply the analytics privileges in `conn`'s database; False when its schema is not migrated yet."""
    if conn.execute("select to_regprocedure('public.apply_analytics_privileges(name)')").fetchone()[0] is None:
        return False
    conn.execute("call public.apply_analytics_privileges(%s)", (READER_ROLE,))
    return True


def role_url(url: str, user: str, password: str) -> str:
    """The libpq URL of `url`'s server and database for another user (other parameters kept)."""
    params = {k: v for k, v in conninfo_to_dict(url).items() if v is not None}
    params.pop("user", None)
    params.pop("password", None)
    host = str(params.pop("host", ""))
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    port = params.pop("port", None)
    dbname = str(params.pop("dbname", ""))
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{quote(host, safe='[]:,')}"
    if port:
        netloc += f":{port}"
    query = urlencode({k: str(v) for k, v in params.items()})
    return f"postgresql://{netloc}/{quote(dbname, safe='')}" + (f"?{query}" if query else "")


def reader_url(settings: Settings) -> str:
    """URL of the database for atlas_reader, creating or updating the role first (`atlas db reader-url`)."""
    password = require_reader_password(settings)
    admin_url = database_url(settings)
    with psycopg.connect(admin_url) as conn:
        ensure_reader_role(conn, settings, password)
    return role_url(admin_url, READER_ROLE, password)


def setup_reader_role(settings: Settings) -> str:
    """After migrations (`atlas db upgrade`): create or update the role when a password is known,
    else only re-apply the privileges. Returns one line for the person at the terminal."""
    password = reader_password(settings)
    with psycopg.connect(database_url(settings)) as conn:
        if password is None:
            apply_privileges(conn)
            return (
                f"read-only role {READER_ROLE} not created: set ATLAS_READER_PASSWORD (needed with DATABASE_URL) "
                "and run `atlas db upgrade` again"
            )
        report = ensure_reader_role(conn, settings, password)
    state = "created" if report.created else "up to date"
    return f"read-only role {READER_ROLE} {state}; `atlas db reader-url` prints its connection URL"


# ---- the API's and the ETL's roles ------------------------------------------------------------
def _role_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone() is not None


def _is_migrated(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('public.papers') is not null").fetchone()[0]


def _public_relations(conn: psycopg.Connection, kinds: str) -> list[tuple[str, str, str]]:
    """(name, relkind, owner) of the relations of schema public whose relkind is in `kinds`."""
    return conn.execute(
        "select c.relname, c.relkind::text, pg_get_userbyid(c.relowner) from pg_class c "
        "where c.relnamespace = 'public'::regnamespace and c.relkind = any(%s) "
        "and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid "
        "and d.deptype = 'e') order by c.relname",
        (list(kinds),),
    ).fetchall()


def _reset_database_rights(conn: psycopg.Connection, name: str) -> None:
    """Whatever the role was given in this database goes first (its own tables aside: an owner's
    rights are its own); then CONNECT and USAGE on public."""
    role = sql.Identifier(name)
    database = sql.Identifier(conn.info.dbname)
    for relation, kind, owner in _public_relations(conn, "rvmpfS"):
        if owner != name:
            what = sql.SQL("sequence" if kind == "S" else "table")
            conn.execute(sql.SQL("revoke all on {} {} from {}").format(what, sql.Identifier("public", relation), role))
    conn.execute(sql.SQL("revoke all on all routines in schema public from {}").format(role))
    conn.execute(sql.SQL("revoke create on schema public from {}").format(role))
    conn.execute(sql.SQL("revoke create on schema public from public"))
    if conn.execute("select to_regnamespace(%s) is not null", (STAGING_SCHEMA,)).fetchone()[0]:
        conn.execute(sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(STAGING_SCHEMA), role))
    conn.execute(sql.SQL("revoke create, temporary on database {} from {}").format(database, role))
    conn.execute(sql.SQL("grant connect on database {} to {}").format(database, role))
    conn.execute(sql.SQL("grant usage on schema public to {}").format(role))


def apply_api_privileges(conn: psycopg.Connection) -> bool:
    """atlas_api in this database: SELECT on the app's tables and views, EXECUTE on the functions of
    public, nothing else. False when the role or the schema is not there yet."""
    if not _role_exists(conn, API_ROLE) or not _is_migrated(conn):
        return False
    role = sql.Identifier(API_ROLE)
    _reset_database_rights(conn, API_ROLE)
    for name, _, _ in _public_relations(conn, "rvmpf"):
        if name not in NOT_FOR_THE_API:
            conn.execute(sql.SQL("grant select on {} to {}").format(sql.Identifier("public", name), role))
    # Functions, not procedures: apply_analytics_privileges is the migrator's.
    conn.execute(sql.SQL("grant execute on all functions in schema public to {}").format(role))
    apply_saved_views_privileges(conn)
    return True


# The API's one write: POST /api/views stores a view (in a transaction it opens read-write on purpose).
API_INSERTS = ("saved_views",)


def apply_saved_views_privileges(conn: psycopg.Connection) -> None:
    """atlas_api may add rows to saved_views (never update or delete them)."""
    for name in API_INSERTS:
        if conn.execute("select to_regclass(%s) is not null", (f"public.{name}",)).fetchone()[0]:
            conn.execute(sql.SQL("grant insert on {} to {}").format(sql.Identifier("public", name),
                                                                   sql.Identifier(API_ROLE)))


def apply_etl_privileges(conn: psycopg.Connection) -> bool:
    """atlas_etl in this database: owner of the data tables, CREATE on atlas_staging, TEMP, SELECT on
    the reference data, EXECUTE on the functions of public and on create_paper_index. False when the
    role or the schema is not there yet."""
    if not _role_exists(conn, ETL_ROLE) or not _is_migrated(conn):
        return False
    role = sql.Identifier(ETL_ROLE)
    superuser = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]
    if not superuser:
        # Giving a table away needs membership in the new owner; it also keeps the migrator able to
        # alter the tables in later migrations.
        conn.execute(sql.SQL("grant {} to current_user").format(role))
    relations = _public_relations(conn, "rpm")
    for name, kind, owner in relations:
        if name in NOT_OWNED_BY_THE_ETL or owner == ETL_ROLE:
            continue
        what = sql.SQL("materialized view" if kind == "m" else "table")
        conn.execute(sql.SQL("alter {} {} owner to {}").format(what, sql.Identifier("public", name), role))
    _reset_database_rights(conn, ETL_ROLE)
    conn.execute(sql.SQL("grant temporary on database {} to {}").format(sql.Identifier(conn.info.dbname), role))
    # No CREATE on public: a function planted there would be found by every privileged role's
    # search_path (CVE-2018-1058). Staging tables go to a schema on nobody's search_path, and the
    # indexes of papers (CREATE INDEX needs CREATE on the schema) are built by the owner.
    if conn.execute("select to_regnamespace(%s) is not null", (STAGING_SCHEMA,)).fetchone()[0]:
        conn.execute(sql.SQL("grant usage, create on schema {} to {}").format(sql.Identifier(STAGING_SCHEMA), role))
    if conn.execute("select to_regprocedure('public.create_paper_index(text)') is not null").fetchone()[0]:
        conn.execute(sql.SQL("grant execute on procedure public.create_paper_index(text) to {}").format(role))
    for name, _, owner in _public_relations(conn, "rvmpf"):
        if name not in MIGRATION_STATE:
            rights = sql.SQL("all" if owner == ETL_ROLE else "select")
            conn.execute(sql.SQL("grant {} on {} to {}").format(rights, sql.Identifier("public", name), role))
    conn.execute(sql.SQL("grant usage, select, update on all sequences in schema public to {}").format(role))
    conn.execute(sql.SQL("grant execute on all functions in schema public to {}").format(role))
    return True


def ensure_api_role(conn: psycopg.Connection, settings: Settings, password: str) -> bool:
    """Create or update atlas_api (read-only sessions under the API's statement timeout) and grant it
    this database. True when the role was created now."""
    try:
        created = _ensure_login_role(conn, API_ROLE, password, -1)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise RoleError(f"the database user cannot create or change the role {API_ROLE} (it needs "
                        f"CREATEROLE): {exc.diag.message_primary}") from exc
    role = sql.Identifier(API_ROLE)
    conn.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(role))
    conn.execute(sql.SQL("alter role {} set statement_timeout = {}").format(
        role, sql.Literal(int(settings.api_statement_timeout_ms))))
    conn.execute(sql.SQL("alter role {} set search_path = public").format(role))
    apply_api_privileges(conn)
    return created


def ensure_etl_role(conn: psycopg.Connection, settings: Settings, password: str) -> bool:
    """Create or update atlas_etl and give it this database's data tables. True when created now."""
    try:
        created = _ensure_login_role(conn, ETL_ROLE, password, -1)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise RoleError(f"the database user cannot create or change the role {ETL_ROLE} (it needs "
                        f"CREATEROLE): {exc.diag.message_primary}") from exc
    conn.execute(sql.SQL("alter role {} set search_path = public").format(sql.Identifier(ETL_ROLE)))
    apply_etl_privileges(conn)
    return created


def setup_app_roles(settings: Settings) -> list[str]:
    """After migrations (`atlas db upgrade`): atlas_api and atlas_etl, created or updated when their
    password is known (generated for the embedded server), else only their privileges re-applied."""
    lines = []
    with psycopg.connect(database_url(settings)) as conn:
        for name, env, password, ensure, apply in (
            (API_ROLE, "ATLAS_API_PASSWORD", api_password(settings, generate=True), ensure_api_role,
             apply_api_privileges),
            (ETL_ROLE, "ATLAS_ETL_PASSWORD", etl_password(settings, generate=True), ensure_etl_role,
             apply_etl_privileges),
            (SQL_RUNNER_ROLE, "ATLAS_SQL_PASSWORD", sql_password(settings, generate=True),
             ensure_sql_runner_role, apply_sql_runner_privileges),
        ):
            if password is None:
                apply(conn)
                fallback = ("the SQL panel stays off" if name == SQL_RUNNER_ROLE
                            else "it connects as the database owner")
                lines.append(f"role {name} not created: set {env} (needed with DATABASE_URL) and run "
                             f"`atlas db upgrade` again; until then {fallback}")
                continue
            created = ensure(conn, settings, password)
            lines.append(f"role {name} {'created' if created else 'up to date'}")
    return lines


# ---- the SQL panel's role -------------------------------------------------------------------------
def apply_sql_runner_privileges(conn: psycopg.Connection) -> bool:
    """atlas_sql_runner in this database: exactly what the analysts' role gets (CONNECT, USAGE on
    analytics, SELECT on its views, EXECUTE on its functions; nothing in public, no TEMP, no CREATE),
    by the same procedure. False when the role or the schema is not there yet."""
    if not _role_exists(conn, SQL_RUNNER_ROLE):
        return False
    if conn.execute("select to_regprocedure('public.apply_analytics_privileges(name)')").fetchone()[0] is None:
        return False
    conn.execute("call public.apply_analytics_privileges(%s)", (SQL_RUNNER_ROLE,))
    return True


def ensure_sql_runner_role(conn: psycopg.Connection, settings: Settings, password: str) -> bool:
    """Create or update atlas_sql_runner: read-only sessions whose every query is bounded in time,
    memory and temporary files (the API sets the same per transaction too). True when created now."""
    try:
        created = _ensure_login_role(conn, SQL_RUNNER_ROLE, password, settings.sql_connection_limit)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise RoleError(f"the database user cannot create or change the role {SQL_RUNNER_ROLE} (it needs "
                        f"CREATEROLE): {exc.diag.message_primary}") from exc
    role = sql.Identifier(SQL_RUNNER_ROLE)
    for name, value in (("default_transaction_read_only", "on"),
                        ("statement_timeout", int(settings.sql_statement_timeout_ms)),
                        ("idle_in_transaction_session_timeout", max(1000, 2 * int(settings.sql_statement_timeout_ms))),
                        ("work_mem", settings.sql_work_mem)):
        try:
            conn.execute(sql.SQL("alter role {} set {} = {}").format(role, sql.Identifier(name), sql.Literal(value)))
        except psycopg.errors.InvalidParameterValue as exc:
            raise RoleError(f"{name} = {value!r} for {SQL_RUNNER_ROLE}: {exc.diag.message_primary}") from exc
    conn.execute(sql.SQL("alter role {} set search_path = {}").format(role, sql.SQL(SQL_RUNNER_SEARCH_PATH)))
    if conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]:
        # A superuser-only setting: the role's sessions cannot raise it themselves.
        conn.execute(sql.SQL("alter role {} set temp_file_limit = {}").format(
            role, sql.Literal(settings.sql_temp_file_limit)))
    apply_sql_runner_privileges(conn)
    return created


def sql_runner_url(settings: Settings) -> str | None:
    """The URL the SQL panel's queries run with (as atlas_sql_runner), or None when its password is
    unknown: then the panel is off, never run as a more powerful role."""
    password = sql_password(settings)
    return role_url(database_url(settings), SQL_RUNNER_ROLE, password) if password else None


def setup_roles(settings: Settings) -> list[str]:
    """Every role after the migrations: the analysts', the API's and the ETL's (one line each)."""
    return [setup_reader_role(settings), *setup_app_roles(settings)]


def api_database_url(settings: Settings) -> str:
    """The URL the API connects with: as atlas_api when its password is known, else DATABASE_URL as is
    (which may already name atlas_api)."""
    url = database_url(settings)
    password = api_password(settings)
    return role_url(url, API_ROLE, password) if password else url


def settings_for_etl(settings: Settings) -> Settings:
    """The same settings connecting as atlas_etl when its password is known (the ETL commands use them)."""
    password = etl_password(settings)
    if password is None:
        return settings
    return dataclasses.replace(settings, database_url=role_url(database_url(settings), ETL_ROLE, password))


def settings_for_api(settings: Settings) -> Settings:
    """The same settings connecting as the API does (`api_database_url`)."""
    return dataclasses.replace(settings, database_url=api_database_url(settings))


def url_user(url: str) -> str | None:
    """The user name a libpq URL connects as (None when it leaves it to libpq's default)."""
    user = conninfo_to_dict(url).get("user")
    return None if user is None else str(user)


def owner_powers(url: str) -> list[str]:
    """What the user of `url` may do that the API's role must not (superuser, creating roles or
    databases, owning the database or its tables); empty when the server cannot be reached."""
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute(
                """
                select r.rolsuper, r.rolcreaterole, r.rolcreatedb,
                       pg_has_role(current_user, d.datdba, 'MEMBER'),
                       coalesce(pg_has_role(current_user, (select c.relowner from pg_class c
                                                             where c.oid = to_regclass('public.papers')), 'MEMBER'),
                                false)
                  from pg_roles r, pg_database d
                 where r.rolname = current_user and d.datname = current_database()
                """
            ).fetchone()
    except psycopg.Error:
        return []
    names = ("superuser", "creates roles", "creates databases", "owns the database", "owns the tables")
    return [name for name, holds in zip(names, row or (), strict=False) if holds]
