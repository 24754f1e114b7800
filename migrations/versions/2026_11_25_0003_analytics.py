"""arXiv's category taxonomy, the analysts' schema `analytics` and its privileges

The login role for analysts (atlas_reader) is cluster-wide and has a password, so it is created by
`atlas db upgrade` (app/roles.py), not here; sql/analytics.sql grants it access when it exists.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import apply_frozen_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table arxiv_categories (
            code            text primary key,
            name            text not null,
            archive         text generated always as (split_part(code, '.', 1)) stored,
            archive_name    text not null,
            group_name      text not null,
            status          text not null check (status in ('active', 'alias', 'legacy')),
            canonical_code  text not null
        )
        """
    )
    op.execute(
        "comment on table arxiv_categories is 'arXiv''s category taxonomy: long names of category codes, "
        "their archive and group (filled from sql/categories.sql).'"
    )
    apply_frozen_sql("categories.sql")
    op.execute("create schema analytics")
    op.execute(
        "comment on schema analytics is 'Arxiv Atlas for analysts and BI tools: stable views and search "
        "functions over the papers (read-only role atlas_reader; reference in docs/analysts.md).'"
    )
    apply_frozen_sql("analytics.sql")


def downgrade() -> None:
    # Give PUBLIC back the defaults that apply_analytics_privileges took away (CREATE on schema
    # public stays revoked: PostgreSQL >= 15 does not grant it either).
    op.execute(
        """
        do $$
        declare
            routine regprocedure;
        begin
            for routine in
                select p.oid::regprocedure from pg_proc p
                 where p.pronamespace = 'public'::regnamespace and p.prokind in ('f', 'p')
                   and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass
                                      and d.objid = p.oid and d.deptype = 'e')
            loop
                execute format('grant execute on routine %s to public', routine);
            end loop;
            execute format('grant temporary on database %I to public', current_database());
            if (select rolsuper from pg_roles where rolname = current_user) then
                grant execute on function pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer),
                    pg_catalog.lo_from_bytea(oid, bytea) to public;
            end if;
            if exists (select from pg_roles where rolname = 'atlas_reader') then
                execute format('revoke connect on database %I from atlas_reader', current_database());
            end if;
        end $$
        """
    )
    op.execute("drop procedure apply_analytics_privileges(name)")
    op.execute("drop function analytics.project_embedding(real[])")
    op.execute(
        "drop function analytics.search_papers_hybrid(text, halfvec, integer, text, date, date, integer, integer)"
    )
    op.execute("drop function analytics.search_papers_by_text(text, integer, text, date, date)")
    op.execute("drop function analytics.similar_papers(text, integer, text, date, date)")
    op.execute("drop function analytics.search_papers_by_vector(halfvec, integer, text, date, date)")
    op.execute("drop view analytics.embedding_space")
    op.execute("drop view analytics.paper_embeddings")
    op.execute("drop view analytics.monthly_archive_counts")
    op.execute("drop view analytics.monthly_category_counts")
    op.execute("drop view analytics.category_stats")
    op.execute("drop view analytics.archives")
    op.execute("drop view analytics.categories")
    op.execute("drop view analytics.paper_categories")
    op.execute("drop view analytics.paper_authors")
    op.execute("drop view analytics.papers")
    op.execute("drop schema analytics")
    op.execute("drop table arxiv_categories")
