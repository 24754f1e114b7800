"""Shared fixtures: a real PostgreSQL (the embedded server, or DATABASE_URL) and fresh databases.

Every test database is cloned from a migrated template, so each test starts from the real schema
in a fraction of a second and never sees another test's rows.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from app.core.connections import url_with_database
from app.core.embedded_server import EmbeddedPostgres
from app.core.migrate import upgrade_database
from app.core.settings import Settings, get_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    # Apps made by tests load their models on first use; tests of the warm-up turn it back on.
    return dataclasses.replace(get_settings(), warm_models=False)


@pytest.fixture(scope="session")
def shared_data(base_settings: Settings) -> Path:
    folder = base_settings.shared_data_dir
    assert (folder / "arxiv-10k.jsonl.gz").exists(), f"the real samples are missing from {folder}"
    return folder


@contextmanager
def server_folder() -> Iterator[Path]:
    """A folder for an embedded server's data, outside pytest's tmp_path.

    As root the server runs as another user, and pytest resets its own temp root to mode 0700
    whenever a pytest session starts, which would lock a running server out of its data.
    """
    folder = Path(tempfile.mkdtemp(prefix="atlas-test-pg-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server_dir() -> Iterator[Path]:
    with server_folder() as folder:
        yield folder


@pytest.fixture(scope="session")
def sample():
    """Real rows of the 10k sample, ready to be written into every source format (sample_formats.py)."""
    from sample_formats import load_sample

    return load_sample()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of the `postgres` database of a real server: DATABASE_URL's, else a private embedded one."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url_with_database(url, "postgres")
        return
    with server_folder() as data_dir:
        server = EmbeddedPostgres(Settings(data_dir=data_dir, db_port=free_port()))
        server.start()
        try:
            yield server.url("postgres")
        finally:
            server.stop()


def create_database(admin_url: str, name: str, template: str | None = None) -> None:
    """A new database, cloned from `template` with its per-database settings (hnsw.ef_search, ...).

    CREATE DATABASE ... TEMPLATE copies the contents, not the ALTER DATABASE ... SET of the template.
    """
    with psycopg.connect(admin_url, autocommit=True) as conn:
        clause = f' template "{template}"' if template else ""
        conn.execute(f'create database "{name}"{clause}')
        if template:
            row = conn.execute(
                "select s.setconfig from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase "
                "where d.datname = %s and s.setrole = 0", (template,)
            ).fetchone()
            for assignment in (row[0] if row else []):
                key, value = assignment.split("=", 1)
                conn.execute(f'alter database "{name}" set {key} = {value}')


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str, base_settings: Settings, tmp_path_factory) -> Iterator[str]:
    name = f"atlas_template_{uuid.uuid4().hex[:8]}"
    create_database(pg_admin_url, name)
    settings = dataclasses.replace(
        base_settings, database_url=url_with_database(pg_admin_url, name),
        data_dir=tmp_path_factory.mktemp("template"),
    )
    upgrade_database(settings)
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def make_db(pg_admin_url: str, template_database: str, base_settings: Settings, tmp_path: Path):
    """Factory of fresh migrated databases; returns Settings pointing at one."""
    created: list[str] = []

    def factory(**overrides) -> Settings:
        name = f"atlas_test_{uuid.uuid4().hex[:10]}"
        create_database(pg_admin_url, name, template_database)
        created.append(name)
        return dataclasses.replace(
            base_settings, database_url=url_with_database(pg_admin_url, name), data_dir=tmp_path / name,
            reject_dir=tmp_path / name / "rejects", **overrides,
        )

    yield factory
    for name in created:
        drop_database(pg_admin_url, name)


@pytest.fixture
def db(make_db) -> Settings:
    """A fresh, migrated, empty database."""
    return make_db()


@pytest.fixture(scope="session")
def loaded_10k(
    pg_admin_url: str, template_database: str, base_settings: Settings, shared_data: Path, tmp_path_factory
) -> Iterator[Settings]:
    """A database holding the real 10k sample with its embeddings (read-only for tests)."""
    from etl.load import LoadOptions, load_sources

    name = f"atlas_10k_{uuid.uuid4().hex[:8]}"
    create_database(pg_admin_url, name, template_database)
    folder = tmp_path_factory.mktemp("loaded-10k")
    settings = dataclasses.replace(
        base_settings, database_url=url_with_database(pg_admin_url, name), data_dir=folder,
        reject_dir=folder / "rejects",
    )
    load_sources(settings, LoadOptions(
        sources=[shared_data / "arxiv-10k.jsonl.gz"],
        embeddings=shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy",
        progress=False,
    ))
    yield settings
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def mapped_10k(
    pg_admin_url: str, template_database: str, base_settings: Settings, shared_data: Path, tmp_path_factory
) -> Iterator[Settings]:
    """The 10k sample after `atlas build`: maps (all, math, cs), tiles, topics, paper_neighbors. Read-only."""
    from etl.build import build_all
    from etl.load import LoadOptions, load_sources

    name = f"atlas_mapped_{uuid.uuid4().hex[:8]}"
    create_database(pg_admin_url, name, template_database)
    folder = tmp_path_factory.mktemp("mapped-10k")
    settings = dataclasses.replace(
        base_settings, database_url=url_with_database(pg_admin_url, name), data_dir=folder,
        reject_dir=folder / "rejects", map_min_papers=2000, map_fit_sample=100_000, tile_points=2048,
        umap_n_epochs=200,  # umap-learn would take 500 below 10k papers; the maps are as good for the tests
    )
    load_sources(settings, LoadOptions(
        sources=[shared_data / "arxiv-10k.jsonl.gz"],
        embeddings=shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy",
        progress=False,
    ))
    build_all(settings, echo=lambda line: None)
    yield settings
    drop_database(pg_admin_url, name)
