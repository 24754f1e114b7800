"""security: load staging gets its own schema (atlas_staging, on nobody's search_path), PUBLIC loses
CREATE on public, and the indexes of papers that loads and builds rebuild are listed in
paper_index_definitions (only the owner builds them, through create_paper_index())

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create schema if not exists atlas_staging")
    op.execute("comment on schema atlas_staging is "
               "'Staging tables of `atlas load` (atlas_etl may create here); on no role''s search_path.'")
    op.execute("revoke all on schema atlas_staging from public")
    # PostgreSQL < 15 lets every role create in public; nobody but the owner may (CVE-2018-1058).
    op.execute("revoke create on schema public from public")
    op.execute(
        """
        create table paper_index_definitions (
            name        text primary key,
            definition  text not null
        )
        """
    )
    op.execute("comment on table paper_index_definitions is "
               "'The indexes of papers that a load or a build may (re)create through create_paper_index(); "
               "written by `atlas db upgrade` only.'")


def downgrade() -> None:
    op.execute("drop table paper_index_definitions")
    op.execute("drop schema atlas_staging cascade")
