"""search_papers_hybrid scores its candidates by similarity + keyword_weight x query-word coverage
instead of reciprocal rank fusion: its last parameter is now `keyword_weight double precision` (was
`rrf_k integer`) and it returns `similarity` and `keyword_coverage` too. A function's signature is
part of its identity, so the old one (public and analytics) is dropped here; sql/idempotent/ creates
the new one when `atlas db upgrade` re-applies it at head. The downgrade restores the old definitions
from a frozen copy (migrations/frozen/hybrid_rrf.sql).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import apply_frozen_sql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OLD = "(text, halfvec, integer, text, date, date, integer, integer)"
NEW = "(text, halfvec, integer, text, date, date, integer, double precision)"


def upgrade() -> None:
    op.execute(f"drop function if exists analytics.search_papers_hybrid{OLD}")
    op.execute(f"drop function if exists public.search_papers_hybrid{OLD}")


def downgrade() -> None:
    op.execute(f"drop function if exists analytics.search_papers_hybrid{NEW}")
    op.execute(f"drop function if exists public.search_papers_hybrid{NEW}")
    apply_frozen_sql("hybrid_rrf.sql")
