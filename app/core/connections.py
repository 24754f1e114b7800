"""Where the database is and how to connect to it: `DATABASE_URL`, else the embedded server.

Every command and the API get their connection from here; nothing else builds URLs or engines.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
from pgvector.psycopg import register_vector

from app.core.embedded_server import EmbeddedPostgres
from app.core.errors import AtlasError
from app.core.settings import Settings

MIN_PGVECTOR = (0, 7, 0)  # halfvec arrived in pgvector 0.7


class DatabaseError(AtlasError):
    """The configured database cannot serve Arxiv Atlas (unreachable, or pgvector missing/too old)."""


def database_url(settings: Settings) -> str:
    """libpq URL of the database: DATABASE_URL, else the embedded server's (started or not: reading a
    setting never starts a server; `start_database` does, and the CLI calls it)."""
    if settings.database_url:
        return settings.database_url
    server = EmbeddedPostgres(settings)
    if not server.initialised:
        raise DatabaseError(
            f"the embedded server in {server.data_dir} is not initialised: run `atlas db start` "
            "(or set DATABASE_URL)"
        )
    return server.url()


def start_database(settings: Settings) -> bool:
    """Start the embedded server unless DATABASE_URL names another one; True when it started now.

    The one place a server is started as part of a command (`atlas db start`, and every `atlas`
    command that needs the database)."""
    if settings.database_url:
        return False
    return EmbeddedPostgres(settings).start()


def url_with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def sqlalchemy_url(url: str) -> str:
    """The same URL for SQLAlchemy's psycopg 3 dialect."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def connect(settings: Settings, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg connection with pgvector's types registered (needs the extension installed)."""
    conn = psycopg.connect(database_url(settings), autocommit=autocommit)
    try:
        register_vector(conn)
    except psycopg.ProgrammingError as exc:
        conn.close()
        raise DatabaseError(
            "the pgvector extension is not installed in this database; run `atlas db upgrade`"
        ) from exc
    return conn


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def check_pgvector(conn: psycopg.Connection) -> str:
    """The pgvector version available, or a DatabaseError saying what is wrong."""
    row = conn.execute(
        "select coalesce(installed_version, default_version) from pg_available_extensions where name = 'vector'"
    ).fetchone()
    return require_pgvector_version(row[0] if row else None)


def require_pgvector_version(version: str | None) -> str:
    if version is None:
        raise DatabaseError(
            "pgvector is not available on this PostgreSQL server; install pgvector >= 0.7 "
            "(https://github.com/pgvector/pgvector) or unset DATABASE_URL to use the embedded server"
        )
    if parse_version(version) < MIN_PGVECTOR:
        raise DatabaseError(
            f"pgvector {version} is too old: Arxiv Atlas stores halfvec embeddings, which need pgvector >= 0.7"
        )
    return version
