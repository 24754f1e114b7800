"""analytics views over the maps: maps, map_points with topic labels, map_topics, paper_neighbors

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import apply_frozen_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_frozen_sql("analytics_maps.sql")  # ends by granting the reader the new views


def downgrade() -> None:
    op.execute("drop view analytics.paper_neighbors")
    op.execute("drop view analytics.map_points")
    op.execute("drop view analytics.map_topics")
    op.execute("drop view analytics.maps")
