"""search and embedding-space functions from sql/

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import apply_frozen_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_frozen_sql("embedding_space.sql")
    apply_frozen_sql("search.sql")


def downgrade() -> None:
    op.execute("drop function search_papers_hybrid(text, halfvec, integer, text, date, date, integer, integer)")
    op.execute("drop function search_papers_by_text(text, integer, text, date, date)")
    op.execute("drop function similar_papers(text, integer, text, date, date)")
    op.execute("drop function search_papers_by_vector(halfvec, integer, text, date, date)")
    op.execute("drop function paper_matches_filters(text, text, timestamptz, text, date, date)")
    op.execute("drop function project_embedding(real[])")
