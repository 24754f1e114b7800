"""Where the database is and how to connect to it: `DATABASE_URL`, else the embedded server.

Every command and the API get their connection from here; nothing else builds URLs or engines.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
from pgvector.psycopg import register_vector

from app.embedded_db import EmbeddedPostgres
from app.settings import Settings

MIN_PGVECTOR = (0, 7, 0)  # halfvec arrived in pgvector 0.7


class DatabaseError(RuntimeError):
    """The configured database cannot serve Arxiv Atlas (unreachable, or pgvector missing/too old)."""


def database_url(settings: Settings, *, start: bool = True) -> str:
    """libpq URL of the database; starts the embedded server when no DATABASE_URL is set."""
    if settings.database_url:
        return settings.database_url
    server = EmbeddedPostgres(settings)
    if start:
        server.start()
    return server.url()


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
