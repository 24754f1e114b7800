"""papers.search_tsv becomes a plain column that `atlas load` computes in a parallel query (a trigger
fills it for other writers), instead of a generated column computed by one backend during the merge

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import apply_frozen_sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keeps every stored value (and so the GIN index): only the generation expression goes.
    op.execute("alter table papers alter column search_tsv drop expression")
    apply_frozen_sql("paper_search_tsv.sql")
    op.execute(
        "comment on column papers.search_tsv is 'paper_search_tsv(title, authors, abstract): English, title "
        "(weight A), authors (B), abstract (C). Written by the loader, filled by a trigger for other writers.'"
    )
    op.execute("call apply_analytics_privileges()")  # the new functions are not for PUBLIC


DEPENDENT_FUNCTIONS = """
with recursive dependents(oid, depth) as (
    select d.objid, 1
      from pg_depend d
      join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
     where d.classid = 'pg_proc'::regclass and d.refobjid = 'papers'::regclass and a.attname = 'search_tsv'
    union all
    select d.objid, t.depth + 1
      from pg_depend d join dependents t on d.refobjid = t.oid
     where d.classid = 'pg_proc'::regclass and d.refclassid = 'pg_proc'::regclass and d.deptype = 'n'
)
select p.oid::regprocedure::text, pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc'),
       coalesce((select array_agg(format('grant execute on function %s to %s', p.oid::regprocedure,
                                         case when x.grantee = 0 then 'public' else quote_ident(r.rolname) end))
                   from aclexplode(p.proacl) x left join pg_roles r on r.oid = x.grantee
                  where x.privilege_type = 'EXECUTE' and x.grantee <> p.proowner), '{}'),
       p.proacl is not null, max(t.depth)
  from dependents t join pg_proc p on p.oid = t.oid
 group by p.oid
 order by max(t.depth)
"""


def downgrade() -> None:
    # A plain column cannot become generated again: it is dropped and added back, with its GIN index.
    # Functions with BEGIN ATOMIC bodies depend on the column (search_papers_by_text, and through it the
    # hybrid search and their analytics wrappers): keep their definitions, comments and EXECUTE grants,
    # drop them with the column, and create them again as they were, in dependency order.
    driver = op.get_bind().connection.driver_connection  # as apply_sql_file: no placeholder parsing of `%`
    dependents = driver.execute(DEPENDENT_FUNCTIONS).fetchall()
    op.execute("drop trigger papers_fill_search_tsv on papers")
    op.execute("drop function fill_paper_search_tsv()")
    op.execute("alter table papers drop column search_tsv cascade")
    op.execute(
        """
        alter table papers add column search_tsv tsvector generated always as (
            setweight(to_tsvector('english', title), 'A')
            || setweight(to_tsvector('english', join_words(authors)), 'B')
            || setweight(to_tsvector('english', abstract), 'C')
        ) stored
        """
    )
    op.execute("create index papers_search_tsv on papers using gin (search_tsv)")
    for signature, definition, comment, grants, own_acl, _depth in dependents:
        driver.execute(definition)
        if comment is not None:
            driver.execute(f"comment on function {signature} is {_literal(comment)}")
        if own_acl:  # not the default (PUBLIC may execute): exactly the grants it had
            driver.execute(f"revoke execute on function {signature} from public")
        for grant in grants:
            driver.execute(grant)
    op.execute("drop function paper_search_tsv(text, text[], text)")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
