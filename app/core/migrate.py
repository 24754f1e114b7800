"""`atlas db upgrade` = `alembic upgrade head`: the migrations, the idempotent SQL layer, the roles.

The migrations and sql/ ship inside the installed package (`migrations`, `atlas_sql`), so an
installed `atlas` migrates from any folder; alembic.ini at the top of a checkout is for developers.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config

from app.core.connections import check_pgvector, database_url
from app.core.settings import Settings


def migrations_folder() -> Path:
    return Path(str(resources.files("migrations")))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    config.attributes["database_url"] = url
    return config


def current_revision(settings: Settings) -> str | None:
    with psycopg.connect(database_url(settings)) as conn:
        if conn.execute("select to_regclass('alembic_version') is null").fetchone()[0]:
            return None
        row = conn.execute("select version_num from alembic_version").fetchone()
        return row[0] if row else None


def upgrade_database(settings: Settings, revision: str = "head", *, roles: bool = False) -> list[str]:
    """Migrate to `revision`; at head the SQL layer is re-applied (migrations/env.py), then, with
    `roles`, the roles and their grants (what `atlas db upgrade` does)."""
    from app.core.roles import setup_roles
    from app.core.sql_layer import idempotent_files

    url = database_url(settings)
    with psycopg.connect(url) as conn:
        check_pgvector(conn)
    command.upgrade(alembic_config(url), revision)
    lines = [f"database schema at revision {current_revision(settings)}"]
    if revision == "head":
        lines.append(f"SQL layer re-applied: {len(idempotent_files())} files of sql/idempotent/")
        if roles:
            lines += setup_roles(settings)
    return lines


def downgrade_database(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(database_url(settings)), revision)
