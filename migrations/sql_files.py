"""Applying the `create or replace` files of sql/ from a migration."""

from __future__ import annotations

from pathlib import Path

from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def apply_sql_file(name: str) -> None:
    """Run one file of sql/ as a whole (it may hold several statements and dollar quotes)."""
    text = (SQL_DIR / name).read_text()
    # Straight to psycopg without parameters: no placeholder parsing of the `%` in RAISE
    # messages, and several statements in one round trip (simple query protocol).
    op.get_bind().connection.driver_connection.execute(text)
