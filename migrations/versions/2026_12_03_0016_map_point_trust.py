"""map_points.trust: each point's local trustworthiness (the share of its 10 nearest papers in the
embedding that are among its 10 nearest on the map), written by the map build (etl/maps/trust.py)

Revision ID: 0016
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table map_points add column trust real check (trust between 0 and 1)")
    op.execute(
        "comment on column map_points.trust is 'Local trustworthiness: the share of the paper''s 10 nearest "
        "papers of the map by embedding (cosine) that are also among its 10 nearest on the map (2-D); null "
        "for points placed after the build.'"
    )


def downgrade() -> None:
    op.execute("alter table map_points drop column trust")
