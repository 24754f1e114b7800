"""scale: map_points carries category codes and publication times, and its tile index covers the viewport
query (which reads no papers);
author_search_keys in PL/pgSQL (the author index builds ~6x faster); paper_matches_filters STABLE, so
that search filters are inlined and use the indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import apply_frozen_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "alter table map_points add column category smallint not null default 0, "
        "add column published timestamptz"
    )
    op.execute(
        "comment on column map_points.category is 'The paper''s main category as its 1-based index into "
        "maps.categories (0 = not listed); the code the tiles carry.'"
    )
    op.execute(
        "comment on column map_points.published is 'papers.published, copied so that viewport filters need "
        "not read papers (kept in step by a trigger).'"
    )
    op.execute(
        """
        update map_points mp
           set category = coalesce(array_position(m.categories, p.main_category), 0), published = p.published
          from papers p, maps m
         where p.id = mp.paper_id and m.id = mp.map_id
        """
    )
    # The viewport query reads (x, y, paper, category, published) of the tiles a box touches: with them in
    # the index it is an index-only scan (once VACUUM has marked the pages all-visible; `atlas maps build`
    # vacuums map_points), not a heap fetch per point. 1.2M papers, zoom-3 box of 26k points: 262 -> ~50 ms.
    op.execute("drop index map_points_tile")
    op.execute("create index map_points_tile on map_points (map_id, level, tile_x, tile_y) "
               "include (x, y, paper_id, category, published)")
    apply_frozen_sql("map_viewport.sql")
    apply_frozen_sql("author_keys.sql")  # the same keys as before, so papers_author_keys stays valid
    apply_frozen_sql("search_filters.sql")
    op.execute("call apply_analytics_privileges()")  # the new functions are not for PUBLIC


def downgrade() -> None:
    apply_frozen_sql("search_fields.sql")  # the SQL author_search_keys of 0006 (same keys)
    op.execute("alter function paper_matches_filters(text, text, timestamptz, text, date, date) immutable")
    op.execute("drop trigger papers_sync_map_point_facts on papers")
    op.execute("drop function sync_map_point_facts()")
    apply_frozen_sql("maps.sql")  # the papers_in_view of 0004, which reads papers
    op.execute("drop function map_points_in_view(text, double precision, double precision, double precision, "
               "double precision, integer, integer, text, date, date)")
    op.execute("drop function map_category_codes(text[], text)")
    op.execute("drop index map_points_tile")
    op.execute("alter table map_points drop column category, drop column published")
    op.execute("create index map_points_tile on map_points (map_id, level, tile_x, tile_y)")
