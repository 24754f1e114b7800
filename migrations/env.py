"""Alembic environment: the URL comes from Arxiv Atlas settings, never from alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from app.database import database_url, sqlalchemy_url
from app.settings import get_settings

config = context.config


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or database_url(get_settings())
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
    if _is_alembic_cli_upgrade():
        # `alembic upgrade head` does what `atlas db upgrade` does, the roles included.
        from app.roles import setup_roles

        print("\n".join(setup_roles(get_settings())))


def _is_alembic_cli_upgrade() -> bool:
    command = getattr(config.cmd_opts, "cmd", None)
    return bool(command) and getattr(command[0], "__name__", "") == "upgrade" and (
        "database_url" not in config.attributes
    )


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: the migrations check the server")
run_migrations_online()
