"""papers, their embedding space, the seed's map coordinates and the load log

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from app.core.connections import MIN_PGVECTOR, parse_version

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _require_pgvector() -> None:
    bind = op.get_bind()
    row = bind.exec_driver_sql(
        "select coalesce(installed_version, default_version) from pg_available_extensions "
        "where name = 'vector'"
    ).fetchone()
    if row is None:
        raise RuntimeError("pgvector is not available on this PostgreSQL server: install pgvector >= 0.7")
    if parse_version(row[0]) < MIN_PGVECTOR:
        raise RuntimeError(f"pgvector {row[0]} is too old: halfvec embeddings need pgvector >= 0.7")


def upgrade() -> None:
    _require_pgvector()
    op.execute("create extension if not exists vector")
    # array_to_string is only STABLE; a generated column needs IMMUTABLE. Joining text[] with a
    # space does not depend on any setting, so this wrapper is honestly immutable.
    op.execute(
        """
        create function join_words(words text[]) returns text
        language sql immutable parallel safe
        return array_to_string(words, ' ')
        """
    )
    op.execute(
        """
        create table papers (
            id             bigint generated always as identity primary key,
            arxiv_id       text not null unique,
            revision       integer,
            title          text not null,
            abstract       text not null,
            main_category  text not null,
            archive        text generated always as (split_part(main_category, '.', 1)) stored,
            categories     text[] not null default '{}',
            published      timestamptz,
            updated        timestamptz,
            authors        text[] not null default '{}',
            journal_ref    text,
            doi            text,
            arxiv_comment  text,
            arxiv_doi      text,
            arxiv_year     integer,
            arxiv_number   integer,
            submitter      text,
            report_no      text,
            license        text,
            acm_class      text,
            msc_class      text,
            embedding      halfvec(256),
            search_tsv     tsvector generated always as (
                setweight(to_tsvector('english', title), 'A')
                || setweight(to_tsvector('english', join_words(authors)), 'B')
                || setweight(to_tsvector('english', abstract), 'C')
            ) stored,
            loaded_at      timestamptz not null default now(),
            changed_at     timestamptz not null default now()
        )
        """
    )
    op.execute("comment on table papers is 'One row per arXiv paper (latest revision loaded).'")
    op.execute(
        "create index papers_embedding_hnsw on papers using hnsw (embedding halfvec_cosine_ops) "
        "with (m = 16, ef_construction = 64)"
    )
    op.execute("create index papers_search_tsv on papers using gin (search_tsv)")
    op.execute("create index papers_main_category on papers (main_category)")
    op.execute("create index papers_archive on papers (archive)")
    op.execute("create index papers_published on papers (published)")
    op.execute(
        """
        create table embedding_space (
            singleton          boolean primary key default true check (singleton),
            model              text not null,
            native_dimensions  integer not null check (native_dimensions > 0),
            dimensions         integer not null default 256 check (dimensions = 256),
            projection         text not null check (projection in ('none', 'pca', 'truncate', 'pad')),
            projection_mean        vector,
            projection_components  vector[],
            explained_variance real,
            fitted_on_papers   integer,
            recorded_at        timestamptz not null default now()
        )
        """
    )
    op.execute(
        "comment on table embedding_space is 'The one embedding space of this database: the model "
        "that made the vectors and the projection from its native width to halfvec(256).'"
    )
    op.execute(
        """
        create table seed_map_coordinates (
            dataset   text not null,
            paper_id  bigint not null references papers (id) on delete cascade,
            x         real not null,
            y         real not null,
            primary key (dataset, paper_id)
        )
        """
    )
    op.execute(
        "comment on table seed_map_coordinates is 'x_umap/y_umap of the seed''s per-archive pickles, "
        "kept as they are for that archive''s map.'"
    )
    op.execute(
        """
        create table load_runs (
            id           bigint generated always as identity primary key,
            started_at   timestamptz not null,
            finished_at  timestamptz not null default now(),
            sources      text[] not null,
            rows_in      integer not null,
            loaded       integer not null,
            updated      integer not null,
            unchanged    integer not null,
            rejected     integer not null,
            reject_report text,
            check (rows_in = loaded + updated + unchanged + rejected)
        )
        """
    )
    op.execute("comment on table load_runs is 'One row per committed `atlas load`, with its accounting.'")
    # Filtered vector searches rely on pgvector 0.8 iterative scans; the search functions set the
    # mode, the database sets how wide each HNSW search looks.
    op.execute(
        "do $$ begin execute format('alter database %I set hnsw.ef_search = 100', current_database()); end $$"
    )


def downgrade() -> None:
    op.execute("do $$ begin execute format('alter database %I reset hnsw.ef_search', current_database()); end $$")
    op.execute("drop table load_runs")
    op.execute("drop table seed_map_coordinates")
    op.execute("drop table embedding_space")
    op.execute("drop table papers")
    op.execute("drop function join_words(text[])")
