"""record what the idempotent SQL layer (sql/idempotent/) applied: each file's sha256 and a fingerprint
of the definitions it left in the catalog, for `atlas db status`

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table sql_layer_files (
            file        text primary key,
            sha256      text not null,
            applied_at  timestamptz not null
        )
        """
    )
    op.execute("comment on table sql_layer_files is "
               "'Each file of sql/idempotent/ as last applied by `atlas db upgrade`: its sha256 and when.'")
    op.execute(
        """
        create table sql_layer_state (
            id              integer primary key check (id = 1),
            catalog_sha256  text not null,
            applied_at      timestamptz not null
        )
        """
    )
    op.execute("comment on table sql_layer_state is "
               "'Fingerprint of the functions, views, triggers and comments the SQL layer left in the catalog.'")


def downgrade() -> None:
    op.execute("drop table sql_layer_state")
    op.execute("drop table sql_layer_files")
