"""Running the Alembic migrations programmatically (`atlas db upgrade` = `alembic upgrade head`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.database import check_pgvector, database_url
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    return config


def upgrade_database(settings: Settings, revision: str = "head") -> None:
    import psycopg

    url = database_url(settings)
    with psycopg.connect(url) as conn:
        check_pgvector(conn)
    command.upgrade(alembic_config(url), revision)


def downgrade_database(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(database_url(settings)), revision)
