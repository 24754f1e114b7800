"""Shared fixtures: a real PostgreSQL (the embedded server, or DATABASE_URL) and fresh databases.

Every test database is cloned from a migrated template, so each test starts from the real schema
in a fraction of a second and never sees another test's rows.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from pathlib import Path

import psycopg
import pytest

from app.core.connections import url_with_database
from app.core.embedded_server import EmbeddedPostgres
from app.core.migrate import upgrade_database
from app.core.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    from seed_databases import base_settings

    return base_settings()


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


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, through Playwright (never `playwright install`): one per test module."""
    from browser import CHROMIUM, CHROMIUM_ARGS, chromium_available
    from playwright.sync_api import sync_playwright

    assert chromium_available(), f"{CHROMIUM} is missing: `make install` installs Debian's chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


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
    with ExitStack() as databases:

        def factory(**overrides) -> Settings:
            return databases.enter_context(fresh_database(pg_admin_url, template_database, base_settings, "atlas_test",
                                                          tmp_path / uuid.uuid4().hex[:10], **overrides))

        yield factory


@pytest.fixture
def db(make_db) -> Settings:
    """A fresh, migrated, empty database."""
    return make_db()


# ---- the real 10k sample, loaded and built once per test run (seed_databases.py) ------------------------
SEED_FIXTURES = {"loaded_10k": "loaded", "mapped_10k": "mapped"}
_seed_builds: list[subprocess.Popen] = []


def pytest_configure(config: pytest.Config) -> None:
    """A folder the whole run shares: made by the process that starts the workers, handed to each."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.atlas_run_folder = Path(workerinput["atlas_run_folder"])  # type: ignore[attr-defined]
    else:
        config.atlas_run_folder = Path(tempfile.mkdtemp(prefix="atlas-test-run-"))  # type: ignore[attr-defined]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # pytest-xdist, in the process that starts the workers
    node.workerinput["atlas_run_folder"] = str(node.config.atlas_run_folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        shutil.rmtree(config.atlas_run_folder, ignore_errors=True)


def _seeds(config: pytest.Config) -> Path:
    return config.atlas_run_folder / "seeds"  # type: ignore[attr-defined]


def _start_seed(config: pytest.Config, *, mapped: bool) -> None:
    """Start the background build unless another worker of this run did."""
    from seed_databases import start_seed

    with suppress(FileExistsError):
        _seed_builds.append(start_seed(_seeds(config), mapped=mapped))


def pytest_collection_finish(session: pytest.Session) -> None:
    """As soon as the tests are known: build the 10k databases in the background if a test needs them,
    so that the tests before them run meanwhile (every worker collects every test, the first starts it)."""
    if os.environ.get("DATABASE_URL") or session.config.option.collectonly:
        return
    needed = {SEED_FIXTURES[name] for item in session.items if _needs_seed(item)
              for name in item.fixturenames if name in SEED_FIXTURES}
    if needed:
        _start_seed(session.config, mapped="mapped" in needed)


# The files that run longest (pytest --durations, two workers on 2 cores), started first within their group
# so that no long file is left for the end of a two-worker run. Only the order depends on this list.
LONG_FILES = (
    "test_security.py", "test_installed_tool.py", "test_neighbors.py", "test_database.py",
    "test_load_bad_values.py", "test_replicas.py", "test_load_outcomes.py", "test_sources.py", "test_rerank.py",
    "test_browser.py", "test_api.py", "test_cli.py", "test_map_updates.py", "test_search_quality.py",
    "test_browser_sql_views.py", "test_browser_explain.py", "test_serving.py", "test_fuzz_api.py",
)


def _needs_seed(item: pytest.Item) -> bool:
    return any(name in SEED_FIXTURES for name in getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whole files in this order: those that need no 10k database (they run while it is built in the
    background), then the others; long files first in each group. With `--dist loadfile
    --no-loadscope-reorder` (make test) the workers take files in this order."""
    needs_seed: dict[Path, bool] = {}
    for item in items:
        needs_seed[item.path] = needs_seed.get(item.path, False) or _needs_seed(item)

    def rank(item: pytest.Item) -> tuple[bool, int]:
        name = item.path.name
        return needs_seed[item.path], LONG_FILES.index(name) if name in LONG_FILES else len(LONG_FILES)

    items.sort(key=rank)  # stable: the order within a file and among the other files stays


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The build this process started ends before it does: awaited (another worker may wait for it), or
    stopped when the run was interrupted or stopped early (-x, --maxfail)."""
    for build in _seed_builds:
        if exitstatus == pytest.ExitCode.INTERRUPTED or session.shouldstop or session.shouldfail:
            build.terminate()
        build.wait()


@pytest.fixture(scope="session")
def seed_copy(request: pytest.FixtureRequest) -> Iterator[Callable[[str], str]]:
    """stage ('loaded' or 'mapped') -> admin URL of this worker's own server over a copy of that stage."""
    from seed_databases import copy_of_stage

    servers: dict[str, str] = {}
    with ExitStack() as stack:
        def admin_url(stage: str) -> str:
            if stage not in servers:
                seeds = _seeds(request.config)
                if not seeds.exists():  # no collected test named the fixture (a dynamic request)
                    _start_seed(request.config, mapped=True)
                server = copy_of_stage(seeds, stage, stack.enter_context(server_folder()))
                stack.callback(server.stop)
                servers[stage] = server.url("postgres")
            return servers[stage]

        yield admin_url


def _built_here(pg_admin_url: str, template_database: str, settings: Settings, *, mapped: bool) -> Settings:
    """With DATABASE_URL (one server, no copying of data folders): the database built by this worker."""
    from etl.build import build_all
    from etl.load import LoadOptions, load_sources

    name = f"atlas_{'mapped' if mapped else '10k'}_{uuid.uuid4().hex[:8]}"
    create_database(pg_admin_url, name, template_database)
    settings = dataclasses.replace(settings, database_url=url_with_database(pg_admin_url, name))
    load_sources(settings, LoadOptions(
        sources=[settings.shared_data_dir / "arxiv-10k.jsonl.gz"],
        embeddings=settings.shared_data_dir / "arxiv-10k.all-MiniLM-L6-v2.f16.npy",
        progress=False,
    ))
    if mapped:
        build_all(settings, echo=lambda line: None)
    return settings


def _sample_database(request: pytest.FixtureRequest, base_settings: Settings, folder: Path, *,
                     mapped: bool) -> Iterator[Settings]:
    """The 10k sample's database, loaded (and built when `mapped`): a private copy of the run's seed
    server, or, with DATABASE_URL, built here on that server and dropped afterwards."""
    from seed_databases import loaded_settings, mapped_settings

    settings_of = mapped_settings if mapped else loaded_settings
    if not os.environ.get("DATABASE_URL"):
        yield settings_of(base_settings, request.getfixturevalue("seed_copy")("mapped" if mapped else "loaded"), folder)
        return
    pg_admin_url, template = request.getfixturevalue("pg_admin_url"), request.getfixturevalue("template_database")
    settings = _built_here(pg_admin_url, template, settings_of(base_settings, pg_admin_url, folder), mapped=mapped)
    yield settings
    drop_database(pg_admin_url, url_database(settings.database_url))


@pytest.fixture(scope="session")
def loaded_10k(
    request: pytest.FixtureRequest, base_settings: Settings, shared_data: Path, tmp_path_factory
) -> Iterator[Settings]:
    """A database holding the real 10k sample with its embeddings (read-only for tests); `shared_data`
    fails first, with a clear message, when the samples are missing."""
    yield from _sample_database(request, base_settings, tmp_path_factory.mktemp("loaded-10k"), mapped=False)


@pytest.fixture(scope="session")
def mapped_10k(
    request: pytest.FixtureRequest, base_settings: Settings, shared_data: Path, tmp_path_factory
) -> Iterator[Settings]:
    """The 10k sample after `atlas build`: maps (all, math, cs), tiles, topics, paper_neighbors. Read-only."""
    yield from _sample_database(request, base_settings, tmp_path_factory.mktemp("mapped-10k"), mapped=True)


@contextmanager
def writable_copy(settings: Settings, prefix: str, folder: Path, *, tries: int = 40, **changes) -> Iterator[Settings]:
    """A writable copy of `settings`' database, on the server that holds it (CREATE DATABASE ...
    TEMPLATE, tried `tries` times half a second apart while a session still uses the template), with
    its own data folder under `folder` and `changes` applied to the settings; dropped afterwards."""
    admin_url = url_with_database(settings.database_url, "postgres")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    for attempt in range(tries):
        try:
            create_database(admin_url, name, url_database(settings.database_url))
            break
        except psycopg.errors.ObjectInUse:
            if attempt == tries - 1:
                raise
            time.sleep(0.5)
    try:
        yield dataclasses.replace(settings, database_url=url_with_database(admin_url, name),
                                  data_dir=folder / "data", reject_dir=folder / "rejects", **changes)
    finally:
        drop_database(admin_url, name)


def fresh_database(pg_admin_url: str, template_database: str, base_settings: Settings, prefix: str, folder: Path,
                   **changes) -> AbstractContextManager[Settings]:
    """A fresh migrated database (a copy of the template), with its data folder under `folder` and
    `changes` applied to the settings; dropped afterwards (writable_copy of the template)."""
    template = dataclasses.replace(base_settings, database_url=url_with_database(pg_admin_url, template_database))
    return writable_copy(template, prefix, folder, **changes)


def url_database(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]
