"""A throwaway database for a benchmark: a private embedded server, or a new database on DATABASE_URL."""

from __future__ import annotations

import dataclasses
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from app.core.connections import url_with_database
from app.core.embedded_server import EmbeddedPostgres
from app.core.migrate import upgrade_database
from app.core.settings import Settings, get_settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def scratch_database() -> Iterator[Settings]:
    """Settings pointing at an empty, migrated database that is removed afterwards."""
    base = get_settings()
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as folder:
        if base.database_url:
            name = f"atlas_bench_{uuid.uuid4().hex[:8]}"
            admin = url_with_database(base.database_url, "postgres")
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'create database "{name}"')
            url = url_with_database(base.database_url, name)
            settings = dataclasses.replace(base, database_url=url, data_dir=Path(folder))
            try:
                upgrade_database(settings)
                yield settings
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'drop database "{name}" with (force)')
            return
        server_settings = dataclasses.replace(base, data_dir=Path(folder), db_port=_free_port())
        server = EmbeddedPostgres(server_settings)
        server.start()
        try:
            settings = dataclasses.replace(server_settings, database_url=server.url())
            upgrade_database(settings)
            yield settings
        finally:
            server.stop()
