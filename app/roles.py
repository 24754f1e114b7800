"""atlas_reader: the read-only login role for analysts and BI tools.

Roles belong to the whole PostgreSQL cluster and carry a password, so this one is created and
updated from here after the migrations (`atlas db upgrade`, `atlas db reader-url`), never inside a
migration. Its rights inside a database come from `apply_analytics_privileges()` (sql/analytics.sql):
CONNECT, SELECT on the views of schema `analytics`, EXECUTE on its functions, and nothing else.
Running any of this twice is harmless; a changed password, timeout or limit applies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from app.database import DatabaseError, database_url
from app.settings import Settings

READER_ROLE = "atlas_reader"
READER_PASSWORD_FILE = "reader-password"
# Session defaults of the role (a session may change them with SET; the privileges are what stop writes).
READER_SEARCH_PATH = "analytics, public"
# Role attributes that would give the reader more than reading analytics; they are turned off.
_FORBIDDEN_ATTRIBUTES = {
    "rolsuper": "nosuperuser", "rolcreaterole": "nocreaterole", "rolcreatedb": "nocreatedb",
    "rolreplication": "noreplication", "rolbypassrls": "nobypassrls",
}


class ReaderRoleError(DatabaseError):
    """The reader role cannot be set up: a missing setting, a bad value or missing rights."""


@dataclass(frozen=True)
class ReaderRoleReport:
    created: bool  # the role did not exist before
    granted: bool  # the analytics schema exists and its privileges were (re)applied


def password_file(settings: Settings) -> Path:
    return settings.data_dir.resolve() / READER_PASSWORD_FILE


def reader_password(settings: Settings, *, generate: bool = True) -> str | None:
    """ATLAS_READER_PASSWORD; for the embedded server, else the one kept in the data dir (made once)."""
    if settings.reader_password:
        return settings.reader_password
    if settings.database_url:
        return None
    path = password_file(settings)
    if path.exists():
        return path.read_text().strip()
    if not generate:
        return None
    import secrets

    password = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with mode 0600 from the start: never readable by others, not even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
    return password


def require_reader_password(settings: Settings) -> str:
    password = reader_password(settings)
    if password is None:
        raise ReaderRoleError(
            "DATABASE_URL is set but ATLAS_READER_PASSWORD is not: set ATLAS_READER_PASSWORD to the password "
            f"that the read-only role {READER_ROLE} should have, then run `atlas db upgrade`"
        )
    return password


def ensure_reader_role(conn: psycopg.Connection, settings: Settings, password: str) -> ReaderRoleReport:
    """Create or update the reader role on `conn`'s server and grant it analytics in this database."""
    role = sql.Identifier(READER_ROLE)
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (READER_ROLE,)).fetchone() is not None
    try:
        if not exists:
            conn.execute(sql.SQL("create role {} login").format(role))
        flags = conn.execute(
            sql.SQL("select {} from pg_roles where rolname = %s").format(
                sql.SQL(", ").join(sql.Identifier(name) for name in _FORBIDDEN_ATTRIBUTES)
            ),
            (READER_ROLE,),
        ).fetchone()
        for keyword, value in zip(_FORBIDDEN_ATTRIBUTES.values(), flags, strict=True):
            if value:
                conn.execute(sql.SQL("alter role {} {}").format(role, sql.SQL(keyword)))
        # Nothing inherited either: a membership (say pg_read_all_data) would reach every table.
        for (granted_role,) in conn.execute(
            "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
            "where m.member = (select oid from pg_roles where rolname = %s)", (READER_ROLE,)
        ).fetchall():
            conn.execute(sql.SQL("revoke {} from {}").format(sql.Identifier(granted_role), role))
        # The password travels already hashed (SCRAM), so it never appears in the server's logs.
        verifier = conn.pgconn.encrypt_password(password.encode(), READER_ROLE.encode(), b"scram-sha-256")
        conn.execute(
            sql.SQL("alter role {} login connection limit {} password {}").format(
                role, sql.Literal(settings.reader_connection_limit), sql.Literal(verifier.decode())
            )
        )
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
    return ReaderRoleReport(created=not exists, granted=apply_privileges(conn))


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
