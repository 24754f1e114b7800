"""Alembic environment: the URL comes from Arxiv Atlas settings, never from alembic.ini.

After the migrations, in the same transaction, a database at head gets the idempotent SQL layer
(sql/idempotent/, app/core/sql_layer.py) re-applied; before a downgrade, objects that only the
layer defines are dropped, so each migration's downgrade meets the objects it created.
"""

from __future__ import annotations

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from app.core.connections import database_url, sqlalchemy_url
from app.core.settings import get_settings
from app.core.sql_layer import apply_sql_layer, drop_layer_only_objects
from migrations.frozen_sql import migration_defined_names

config = context.config


def _is_downgrade(script: ScriptDirectory, current: str | None, destination: str | None) -> bool:
    order = [rev.revision for rev in reversed(list(script.walk_revisions()))]  # base .. head
    position = {rev: i for i, rev in enumerate(order)}
    if destination in (None, "base"):
        return current is not None
    if current is None or destination in ("head", "heads"):
        return False
    target = destination.split("@")[-1]
    if target.startswith("-"):
        return True
    if target.startswith("+"):
        return False
    return target in position and position[target] < position.get(current, -1)


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or database_url(get_settings())
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    script = ScriptDirectory.from_config(config)
    with engine.connect() as connection:
        context.configure(connection=connection, transactional_ddl=True)
        driver = connection.connection.driver_connection
        with context.begin_transaction():
            migration = context.get_context()
            if _is_downgrade(script, migration.get_current_revision(), context.get_revision_argument()):
                drop_layer_only_objects(driver, migration_defined_names())
            context.run_migrations()
            if migration.get_current_revision() == script.get_current_head():
                apply_sql_layer(driver)
    engine.dispose()
    if _is_alembic_cli_upgrade():
        # `alembic upgrade head` does what `atlas db upgrade` does, the roles included.
        from app.core.roles import setup_roles

        print("\n".join(setup_roles(get_settings())))


def _is_alembic_cli_upgrade() -> bool:
    command = getattr(config.cmd_opts, "cmd", None)
    return bool(command) and getattr(command[0], "__name__", "") == "upgrade" and (
        "database_url" not in config.attributes
    )


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: the migrations check the server")
run_migrations_online()
