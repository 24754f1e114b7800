-- The indexes of papers that loads and builds rebuild. atlas_etl owns papers but has no CREATE on
-- schema public (nobody but the owner may create where privileged roles resolve names), and
-- CREATE INDEX needs it; so the owner builds them, and only the ones listed here.

-- paper_index_definitions: every secondary index papers has now, plus the HNSW index `atlas build` makes.
insert into public.paper_index_definitions (name, definition)
select c.relname, pg_catalog.pg_get_indexdef(i.indexrelid)
  from pg_catalog.pg_index i join pg_catalog.pg_class c on c.oid = i.indexrelid
 where i.indrelid = 'public.papers'::pg_catalog.regclass and not i.indisunique and not i.indisprimary
on conflict (name) do update set definition = excluded.definition;

insert into public.paper_index_definitions (name, definition)
values ('papers_embedding_hnsw',
        'CREATE INDEX papers_embedding_hnsw ON public.papers USING hnsw (embedding public.halfvec_cosine_ops) '
        'WITH (m = 16, ef_construction = 64)')
on conflict (name) do nothing;

-- create_paper_index: builds one index of paper_index_definitions, by name, as the owner (for
-- atlas_etl: `atlas load` into an empty table, `atlas build`). Does nothing when it exists.
create or replace procedure public.create_paper_index(index_name text)
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
    statement text;
begin
    select d.definition into statement from public.paper_index_definitions d where d.name = index_name;
    if statement is null then
        raise exception 'create_paper_index: % is not an index of paper_index_definitions', index_name;
    end if;
    if pg_catalog.to_regclass(pg_catalog.quote_ident(index_name)) is null then
        execute statement;
    end if;
end;
$$;

revoke all on procedure public.create_paper_index(text) from public;

comment on procedure public.create_paper_index(text) is
    'Builds one index of papers listed in paper_index_definitions, as the owner; for atlas_etl (loads, builds).';
