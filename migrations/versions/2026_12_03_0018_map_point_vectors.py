"""map_points.embedding: each point carries its paper's vector, so a query's footprint reads one narrow table.

map_footprint_summary (sql/idempotent/095-footprint.sql) scores every paper of a map against a query.
It joined map_points to papers for the vectors, and so read the whole papers heap (title, abstract,
authors and full-text vector beside each embedding: 3.30 GiB at 1.2M papers, docs/benchmarks.md
"Scale") and hashed every row to join them. With the vector on the point, the scan reads map_points
alone (bench/footprint.py times it).

The copy is exact by construction: the map writers (etl/maps/build.py, etl/maps/place.py) copy
papers.embedding when they write a point, and a point never outlives its paper's embedding (the
papers_forget_stale_derivations trigger deletes the map points of a paper whose embedding changes;
it is placed again with the new one). The viewport query is an index-only scan of map_points_tile
and does not read the wider rows. Filled here from the points already built.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table map_points add column embedding halfvec(256)")
    op.execute(
        "comment on column map_points.embedding is 'A copy of papers.embedding for the map''s footprint scan "
        "(map_footprint_summary); written with the point, which is deleted when the paper''s embedding changes.'"
    )
    op.execute("update map_points mp set embedding = p.embedding from papers p where p.id = mp.paper_id")


def downgrade() -> None:
    op.execute("alter table map_points drop column embedding")
