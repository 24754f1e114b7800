"""search by title (pg_trgm) and by author (name keys), with their GIN indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import apply_frozen_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create extension if not exists pg_trgm")
    op.execute("create extension if not exists unaccent")
    apply_frozen_sql("search_fields.sql")
    op.execute("create index papers_title_trgm on papers using gin (title gin_trgm_ops)")
    op.execute("create index papers_author_keys on papers using gin (author_search_keys(authors))")
    op.execute("call apply_analytics_privileges()")  # the new functions are not for PUBLIC


def downgrade() -> None:
    op.execute("drop index papers_author_keys")
    op.execute("drop index papers_title_trgm")
    op.execute("drop function search_papers_by_title(text, integer, text, date, date)")
    op.execute("drop function search_papers_by_author(text, integer, text, date, date)")
    op.execute("drop function author_query_keys(text)")
    op.execute("drop function author_search_keys(text[])")
    op.execute("drop function fold_text(text)")
