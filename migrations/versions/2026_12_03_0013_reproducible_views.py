"""reproducible views: the corpus snapshot counter and the saved views of the web map

`corpus_snapshot` holds one row whose `snapshot_id` every load, embedding run and map build moves on
(statement triggers of sql/idempotent/100-views.sql); `saved_views` keeps what a view showed (map,
camera, filters, query or SQL, selection), under which snapshot, embedding space and projection, and
the papers it found, so that a later visit can say what was added and what is gone.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table corpus_snapshot (
            singleton    boolean primary key default true check (singleton),
            snapshot_id  bigint not null default 1,
            changed_at   timestamptz not null default now(),
            changed_by   text
        )
        """
    )
    op.execute("insert into corpus_snapshot (snapshot_id, changed_by) values (1, 'migration 0013')")
    op.execute("comment on table corpus_snapshot is 'The corpus snapshot id: moved on by every statement that "
               "changes papers (loads, embedding runs) or maps (builds, placements).'")
    op.execute(
        """
        create table saved_views (
            id             text primary key check (id ~ '^[0-9a-f]{20}$'),
            map            text not null,
            state          jsonb not null,
            snapshot_id    bigint not null,
            space_id       text,
            model          text,
            projection_id  text,
            arxiv_ids      text[] not null default '{}',
            created_at     timestamptz not null default now()
        )
        """
    )
    op.execute("comment on table saved_views is 'Views of the web map saved by POST /api/views: what they showed, "
               "under which snapshot, embedding space and projection, and the papers they found.'")


def downgrade() -> None:
    op.execute("drop table saved_views")
    op.execute("drop table corpus_snapshot")
