"""map_points.trust: each point's local trustworthiness (the share of its 10 nearest papers in the
embedding that are among its 10 nearest on the map); map_month_density: papers per month in each
tile of a map's quadtree at one level, for the web map's growth colouring. Both written by the map
build (etl/maps/trust.py, etl/maps/growth.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table map_points add column trust real check (trust between 0 and 1)")
    op.execute(
        "comment on column map_points.trust is 'Local trustworthiness: the share of the paper''s 10 nearest "
        "papers of the map by embedding (cosine) that are also among its 10 nearest on the map (2-D); null "
        "for points placed after the build.'"
    )
    op.execute(
        """
        create table map_month_density (
            map_id       integer not null references maps (id) on delete cascade,
            level        smallint not null check (level between 0 and 8),
            first_month  integer not null,
            months       integer not null check (months > 0),
            tiles        integer not null,
            data         bytea not null,
            primary key (map_id, level)
        )
        """
    )
    op.execute(
        "comment on table map_month_density is 'Papers per month in each non-empty tile of a map''s quadtree at "
        "one level, binary (layout in docs/maps.md): what the web map''s growth colouring and month slider read.'"
    )


def downgrade() -> None:
    op.execute("drop table map_month_density")
    op.execute("alter table map_points drop column trust")
