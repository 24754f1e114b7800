"""tile trust: the tiles carry each point's local trustworthiness (tile format 2, 13 bytes a point), and
the viewport query returns it.

- maps.tile_format: the record layout of a map's tiles (etl/maps/tiles.py). Maps built before this
  migration keep their 12-byte tiles (format 1) and are served as they are; `atlas build` rewrites
  the tiles of any map whose format is older than the one the code writes. New rows default to 2.
- map_points_tile covers map_points.trust too, so the viewport query (map_points_in_view, which now
  returns trust) stays an index-only scan.
- map_points_in_view and papers_in_view are dropped here: their result columns change, which `create
  or replace` cannot do; the idempotent layer (sql/idempotent/050-maps.sql) creates them again.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import apply_frozen_sql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

VIEWPORT_ARGS = "text, double precision, double precision, double precision, double precision, integer, integer, " \
    "text, date, date"


def upgrade() -> None:
    op.execute("alter table maps add column tile_format smallint not null default 1 check (tile_format in (1, 2))")
    op.execute("alter table maps alter column tile_format set default 2")
    op.execute(
        "comment on column maps.tile_format is 'Record layout of the map''s tiles (etl/maps/tiles.py, docs/maps.md): "
        "1 = 12 bytes a point (built before migration 0016), 2 = 13 bytes with the point''s local trust.'"
    )
    op.execute(
        "comment on table map_tiles is 'Precomputed binary tiles: the points whose level is z, in tile (x, y) of "
        "the map''s quadtree, 13 bytes a point in tile format 2, 12 in format 1 (maps.tile_format; layouts in "
        "docs/maps.md).'"
    )
    op.execute("drop index map_points_tile")
    op.execute("create index map_points_tile on map_points (map_id, level, tile_x, tile_y) "
               "include (x, y, paper_id, category, published, trust)")
    op.execute(f"drop function papers_in_view({VIEWPORT_ARGS})")
    op.execute(f"drop function map_points_in_view({VIEWPORT_ARGS})")


def downgrade() -> None:
    op.execute(f"drop function papers_in_view({VIEWPORT_ARGS})")
    op.execute(f"drop function map_points_in_view({VIEWPORT_ARGS})")
    apply_frozen_sql("map_viewport.sql")  # the viewport functions of 0007, without trust
    op.execute("call apply_analytics_privileges()")
    op.execute("drop index map_points_tile")
    op.execute("create index map_points_tile on map_points (map_id, level, tile_x, tile_y) "
               "include (x, y, paper_id, category, published)")
    op.execute("alter table maps drop column tile_format")
    op.execute(
        "comment on table map_tiles is 'Precomputed binary tiles: the points whose level is z, in tile (x, y) of "
        "the map''s quadtree, 12 bytes a point (layout in docs/maps.md).'"
    )
