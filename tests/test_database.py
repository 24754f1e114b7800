"""The embedded server's lifecycle, the `atlas db` commands and the migrations."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from app.core.connections import DatabaseError, require_pgvector_version
from app.core.embedded_server import EmbeddedPostgres
from app.core.settings import Settings
from tests.conftest import free_port

REPO = Path(__file__).resolve().parent.parent


def atlas(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=180
    )
    if check and result.returncode != 0:
        raise AssertionError(f"atlas {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def embedded_env(server_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(ATLAS_DATA_DIR=str(server_dir / "atlas-data"), ATLAS_DB_PORT=str(free_port()))
    yield env
    subprocess.run([sys.executable, "-m", "app.cli", "db", "stop"], env=env, cwd=REPO, capture_output=True)


def test_db_commands_are_idempotent_and_url_works_with_psql(embedded_env: dict[str, str]) -> None:
    first = atlas("db", "start", env=embedded_env)
    assert "started" in first.stdout
    again = atlas("db", "start", env=embedded_env)
    assert "already running" in again.stdout

    url = atlas("db", "url", env=embedded_env).stdout.strip()
    assert url.startswith("postgresql://atlas:") and f":{embedded_env['ATLAS_DB_PORT']}/atlas" in url
    psql = shutil.which("psql") or str(EmbeddedPostgres(Settings()).psql_path())
    out = subprocess.run([psql, url, "-tAc", "select 40 + 2"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "42", out.stderr

    via_atlas = atlas("db", "psql", "-tAc", "select 6 * 7", env=embedded_env)
    assert via_atlas.stdout.strip() == "42"

    atlas("db", "upgrade", env=embedded_env)
    status = atlas("db", "status", env=embedded_env).stdout
    assert "running" in status and "pgvector 0.8" in status and "papers: 0" in status

    assert "stopped" in atlas("db", "stop", env=embedded_env).stdout
    assert "was not running" in atlas("db", "stop", env=embedded_env).stdout
    stopped = atlas("db", "status", env=embedded_env, check=False)
    assert stopped.returncode == 3 and "stopped" in stopped.stdout

    # data survives a restart
    atlas("db", "start", env=embedded_env)
    assert "papers: 0" in atlas("db", "status", env=embedded_env).stdout


def test_embedded_server_has_the_workload_settings(server_dir: Path) -> None:
    settings = Settings(data_dir=server_dir / "pg", db_port=free_port(), pg_maintenance_work_mem="512MB")
    server = EmbeddedPostgres(settings)
    server.start()
    try:
        with psycopg.connect(server.url()) as conn:
            show = lambda name: conn.execute(f"show {name}").fetchone()[0]  # noqa: E731
            assert show("maintenance_work_mem") == "512MB"
            # the leader builds too: one process a core
            assert show("max_parallel_maintenance_workers") == str(max((os.cpu_count() or 1) - 1, 0))
            assert show("jit") == "off"
            assert show("listen_addresses") == "127.0.0.1"
            assert show("server_version").startswith("18.")
        # the password is required: a wrong one is refused
        wrong = server.url().replace(server.password(), "wrong-password")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(wrong).close()
        assert (settings.data_dir / "superuser-password").stat().st_mode & 0o077 == 0
    finally:
        server.stop()


def test_port_taken_by_another_program_is_a_clear_error(server_dir: Path) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = EmbeddedPostgres(Settings(data_dir=server_dir / "pg", db_port=port))
        with pytest.raises(Exception, match=f"port {port}.*ATLAS_DB_PORT"):
            server.start()


def test_old_or_missing_pgvector_is_refused_with_a_reason() -> None:
    with pytest.raises(DatabaseError, match="0.6.2 is too old.*>= 0.7"):
        require_pgvector_version("0.6.2")
    with pytest.raises(DatabaseError, match="not available"):
        require_pgvector_version(None)
    assert require_pgvector_version("0.8.6") == "0.8.6"


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from app.core.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("unused")).get_current_head()


def test_alembic_cli_upgrades_like_atlas_db_upgrade(make_db) -> None:
    settings = make_db()
    # start from an empty database: downgrade to base, then `alembic upgrade head` as a user would
    from app.core.migrate import downgrade_database

    downgrade_database(settings, "base")
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("select to_regclass('papers')").fetchone()[0] is None
    env = {**os.environ, "DATABASE_URL": settings.database_url, "ATLAS_READER_PASSWORD": "alembic-parity"}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    # like `atlas db upgrade`, it also sets up the analysts' read-only role
    from app.core.roles import READER_ROLE, role_url

    with psycopg.connect(role_url(settings.database_url, READER_ROLE, "alembic-parity")) as reader:
        assert reader.execute("select count(*) from analytics.papers").fetchone()[0] == 0
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("select to_regclass('papers')").fetchone()[0] == "papers"
        assert conn.execute("select version_num from alembic_version").fetchone()[0] == head_revision()
        functions = {r[0] for r in conn.execute("select proname from pg_proc where proname like '%papers%'")}
        assert {"similar_papers", "search_papers_by_vector", "search_papers_by_text",
                "search_papers_hybrid"} <= functions


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env({"ATLAS_DB_PORT": "6000", "ATLAS_DATA_DIR": "/x", "DATABASE_URL": ""})
    assert settings.db_port == 6000 and settings.data_dir == Path("/x") and settings.database_url is None
    with pytest.raises(ValueError, match="ATLAS_DB_PORT"):
        Settings.from_env({"ATLAS_DB_PORT": "many"})
    assert dataclasses.replace(settings, reject_dir=None).rejects_folder == Path("/x/rejects")


def test_every_setting_is_documented_in_the_readme() -> None:
    from app.core.settings import documented_settings

    readme = (REPO / "README.md").read_text()
    missing = [env for env, _, _ in documented_settings() if f"`{env}`" not in readme]
    assert not missing, f"settings missing from README.md: {missing}"


def test_reading_the_url_never_starts_a_server(tmp_path: Path) -> None:
    from app.core.connections import database_url

    settings = Settings(data_dir=tmp_path / "nowhere", db_port=1)
    with pytest.raises(DatabaseError, match="not initialised: run `atlas db start`"):
        database_url(settings)
    assert not (tmp_path / "nowhere").exists()
