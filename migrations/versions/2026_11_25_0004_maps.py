"""maps, their points (with level of detail), binary tiles, topics, the LLM label cache and paper_neighbors

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import apply_frozen_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table maps (
            id               integer generated always as identity primary key,
            name             text not null unique check (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
            title            text not null,
            filter           text[] not null default '{}',
            paper_count      integer not null default 0,
            projection       jsonb not null default '{}',
            x_min real, y_min real, x_max real, y_max real,
            origin_x         double precision,
            origin_y         double precision,
            extent           double precision check (extent > 0),
            tile_points      integer not null default 8192 check (tile_points between 16 and 65536),
            max_level        smallint,
            categories       text[] not null default '{}',
            built_at         timestamptz,
            build_seconds    real,
            points_changed_at timestamptz,
            tiles_built_at   timestamptz,
            topics_built_at  timestamptz
        )
        """
    )
    op.execute(
        "comment on table maps is 'One row per 2-D map of papers: which papers (filter: archives or categories, "
        "empty = all), how it was projected, its bounds and the quadtree square of its tiles.'"
    )
    op.execute(
        """
        create table map_points (
            map_id    integer not null references maps (id) on delete cascade,
            paper_id  bigint not null references papers (id) on delete cascade,
            x         real not null,
            y         real not null,
            level     smallint not null default 0,
            tile_x    integer not null default 0,
            tile_y    integer not null default 0,
            placed    boolean not null default false,
            topics    integer[] not null default '{}',
            primary key (map_id, paper_id)
        )
        """
    )
    op.execute(
        "comment on table map_points is 'Where each paper sits on each map. level: the first zoom level that "
        "shows the point; (tile_x, tile_y): its tile at that level; placed: put there from its nearest "
        "neighbours instead of by the projection; topics: its topic at each topic level.'"
    )
    # Room on each page so that writing topics after the points (an UPDATE of every row) stays on-page.
    op.execute("alter table map_points set (fillfactor = 85)")
    op.execute("create index map_points_tile on map_points (map_id, level, tile_x, tile_y)")
    op.execute("create index map_points_paper on map_points (paper_id)")
    op.execute(
        """
        create table map_tiles (
            map_id  integer not null references maps (id) on delete cascade,
            z       smallint not null check (z >= 0),
            x       integer not null check (x >= 0),
            y       integer not null check (y >= 0),
            points  integer not null,
            data    bytea not null,
            primary key (map_id, z, x, y)
        )
        """
    )
    # Quantised coordinates do not compress: skip the attempt, keep the bytes out of line.
    op.execute("alter table map_tiles alter column data set storage external")
    op.execute(
        "comment on table map_tiles is 'Precomputed binary tiles: the points whose level is z, in tile (x, y) of "
        "the map''s quadtree, 12 bytes a point (layout in docs/maps.md).'"
    )
    op.execute(
        """
        create table map_topics (
            map_id        integer not null references maps (id) on delete cascade,
            level         smallint not null check (level >= 0),
            topic         integer not null,
            parent        integer,
            label         text not null,
            label_source  text not null default 'terms',
            terms         text[] not null default '{}',
            x             real not null,
            y             real not null,
            size          integer not null check (size > 0),
            radius        real not null default 0,
            primary key (map_id, level, topic)
        )
        """
    )
    op.execute(
        "comment on table map_topics is 'Clusters of a map at several levels (0 = coarsest): label, its "
        "distinctive title terms (class-based TF-IDF), centre, size and the topic one level up.'"
    )
    op.execute(
        """
        create table topic_label_cache (
            prompt_sha256  text primary key,
            model          text not null,
            label          text not null,
            created_at     timestamptz not null default now()
        )
        """
    )
    op.execute(
        "comment on table topic_label_cache is 'Short topic labels written by an LLM, by the hash of the prompt "
        "that asked for them, so a rebuild asks again only for topics that changed.'"
    )
    op.execute(
        """
        create table paper_neighbors (
            paper_id     bigint not null references papers (id) on delete cascade,
            rank         smallint not null check (rank between 1 and 100),
            neighbor_id  bigint not null references papers (id) on delete cascade,
            similarity   real not null,
            primary key (paper_id, rank)
        )
        """
    )
    op.execute("create index paper_neighbors_neighbor on paper_neighbors (neighbor_id)")
    op.execute(
        "comment on table paper_neighbors is 'The nearest papers of every paper by cosine similarity of the "
        "embeddings (rank 1 = nearest), computed with the HNSW index; replaces an all-pairs matrix.'"
    )
    apply_frozen_sql("maps.sql")


def downgrade() -> None:
    op.execute("drop trigger papers_forget_deleted_derivations on papers")
    op.execute("drop trigger papers_forget_stale_derivations on papers")
    op.execute("drop function forget_stale_derivations()")
    op.execute("drop function place_on_map(text, halfvec, integer)")
    op.execute("drop function nearest_on_map(text, halfvec, integer)")
    op.execute("drop function papers_in_view(text, double precision, double precision, double precision, "
               "double precision, integer, integer, text, date, date)")
    op.execute("drop function map_tile_index(double precision, double precision, double precision, integer)")
    op.execute("drop function map_tile(text, integer, integer, integer)")
    op.execute("drop table paper_neighbors")
    op.execute("drop table topic_label_cache")
    op.execute("drop table map_topics")
    op.execute("drop table map_tiles")
    op.execute("drop table map_points")
    op.execute("drop table maps")
