-- 070-analytics.sql: The analysts' schema `analytics`: documented views and functions, and the procedure that grants them.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.

-- The analysts' schema: stable, documented views and functions for SQL users and BI tools
-- (Metabase, Superset, Tableau, Power BI, psql), separate from the app's tables in public.
-- Views run with their owner's rights, so the read-only role atlas_reader reads them without any
-- right on the tables beneath; the functions that read tables are SECURITY DEFINER with a pinned
-- search_path. Reference and examples: docs/analysts.md.
-- Dates are UTC: published_year and published_month are taken from published in UTC.

-- analytics.papers: one flat row per paper, with the long names of its category, archive and group.
-- For BI tools and SQL users: the table to start from.
create or replace view analytics.papers as
select p.id as paper_id,
       p.arxiv_id,
       'https://arxiv.org/abs/' || p.arxiv_id as url,
       p.title,
       p.abstract,
       p.authors,
       array_to_string(p.authors, ', ') as author_names,
       cardinality(p.authors) as author_count,
       p.authors[1] as first_author,
       p.main_category,
       c.name as main_category_name,
       p.archive,
       c.archive_name,
       c.group_name,
       p.categories,
       array_to_string(p.categories, ' ') as category_codes,
       cardinality(p.categories) as category_count,
       p.published,
       extract(year from p.published at time zone 'UTC')::integer as published_year,
       date_trunc('month', p.published at time zone 'UTC')::date as published_month,
       p.updated,
       p.revision,
       p.journal_ref,
       p.doi,
       p.arxiv_comment as comments,
       p.license,
       p.acm_class,
       p.msc_class,
       p.report_no,
       p.submitter,
       p.embedding is not null as has_embedding,
       p.loaded_at
  from public.papers p
  left join public.arxiv_categories c on c.code = p.main_category;

comment on view analytics.papers is
    'One row per arXiv paper (latest revision loaded), flat, with the long names of its main category, '
    'archive and group. Vectors are in analytics.paper_embeddings.';

comment on column analytics.papers.paper_id is 'Internal id; joins every other analytics view.';

comment on column analytics.papers.arxiv_id is 'arXiv identifier without version (0705.1986, math/0501001).';

comment on column analytics.papers.authors is 'Author full names in the order of the paper (text[]).';

comment on column analytics.papers.author_names is 'The authors joined with ", " (for tools without arrays).';

comment on column analytics.papers.first_author is 'The first author listed.';

comment on column analytics.papers.main_category is 'Primary arXiv category code (cs.CL, hep-th, solv-int).';

comment on column analytics.papers.main_category_name is 'Long name of the primary category (Computation and Language).';

comment on column analytics.papers.archive is 'Archive of the primary category: the part of the code before the dot (cs, hep-th).';

comment on column analytics.papers.archive_name is 'Long name of the archive (Computer Science).';

comment on column analytics.papers.group_name is 'arXiv subject group (Computer Science, Mathematics, Physics, ...).';

comment on column analytics.papers.categories is 'Every category the paper is listed in, primary and cross-lists (text[]).';

comment on column analytics.papers.category_codes is 'The categories joined with spaces (for tools without arrays).';

comment on column analytics.papers.published is 'Date of the first version (v1).';

comment on column analytics.papers.published_year is 'Year of the first version, UTC.';

comment on column analytics.papers.published_month is 'First day of the month of the first version, UTC.';

comment on column analytics.papers.updated is 'Date of the latest version, when there is more than one.';

comment on column analytics.papers.revision is 'Version number of the revision loaded, when the source says.';

comment on column analytics.papers.comments is 'The authors'' comments field of arXiv (pages, figures, venue).';

comment on column analytics.papers.has_embedding is 'Whether the paper has a vector (and so appears in semantic search).';

comment on column analytics.papers.loaded_at is 'When the row was first loaded into this database.';

-- analytics.paper_authors: one row per author and paper, with the author's position (1 = first).
-- For co-authorship, prolific authors and "papers of X" questions.
create or replace view analytics.paper_authors as
select p.id as paper_id,
       p.arxiv_id,
       a.author,
       a.position::integer as position,
       cardinality(p.authors) as author_count,
       a.position = 1 as is_first_author,
       a.position = cardinality(p.authors) as is_last_author,
       p.title,
       p.main_category,
       p.archive,
       p.published,
       extract(year from p.published at time zone 'UTC')::integer as published_year
  from public.papers p
 cross join lateral unnest(p.authors) with ordinality as a(author, position);

comment on view analytics.paper_authors is
    'One row per author and paper, with the author''s position on the paper (1 = first author).';

comment on column analytics.paper_authors.author is 'Full name as given on arXiv (names are not disambiguated).';

comment on column analytics.paper_authors.position is 'Position in the author list, 1-based.';

comment on column analytics.paper_authors.author_count is 'Number of authors of the paper.';

-- analytics.paper_categories: one row per paper and category it is listed in; the primary category
-- comes first (position 1, is_primary) and cross-lists follow. For cross-listing questions.
create or replace view analytics.paper_categories as
select p.id as paper_id,
       p.arxiv_id,
       l.category,
       c.name as category_name,
       split_part(l.category, '.', 1) as archive,
       c.archive_name,
       c.group_name,
       l.position::integer as position,
       l.position = 1 as is_primary,
       p.published,
       extract(year from p.published at time zone 'UTC')::integer as published_year,
       date_trunc('month', p.published at time zone 'UTC')::date as published_month
  from public.papers p
 cross join lateral unnest(array_prepend(p.main_category, array_remove(p.categories, p.main_category)))
       with ordinality as l(category, position)
  left join public.arxiv_categories c on c.code = l.category;

comment on view analytics.paper_categories is
    'One row per paper and category it is listed in: the primary category (position 1, is_primary) '
    'then its cross-lists, with long names.';

comment on column analytics.paper_categories.category is 'Category code (cs.LG, math.AG).';

comment on column analytics.paper_categories.category_name is 'Long name of the category.';

comment on column analytics.paper_categories.archive is 'Archive of this category (the part before the dot).';

comment on column analytics.paper_categories.is_primary is 'True for the paper''s main category, false for a cross-list.';

-- analytics.categories: arXiv's taxonomy (every category code with its long names), whether or not
-- papers use it. For joins in BI tools and for labels.
create or replace view analytics.categories as
select c.code as category,
       c.name as category_name,
       c.archive,
       c.archive_name,
       c.group_name,
       c.status,
       c.canonical_code
  from public.arxiv_categories c;

comment on view analytics.categories is
    'arXiv''s category taxonomy: code, long name, archive and group; status active, alias or legacy '
    '(1990s archives), with the canonical code that replaced an alias or legacy code.';

comment on column analytics.categories.status is
    'active: in use; alias: another code of canonical_code (cs.NA = math.NA); legacy: no longer used for new papers.';

comment on column analytics.categories.canonical_code is
    'The code arXiv uses for this category today (the successor of a legacy archive, when it has one).';

-- analytics.archives: one row per arXiv archive (cs, math, hep-th, solv-int) with its long name,
-- group and number of categories. For grouping by archive in BI tools.
create or replace view analytics.archives as
select c.archive,
       min(c.archive_name) as archive_name,
       min(c.group_name) as group_name,
       bool_and(c.status = 'legacy') as legacy,
       count(*)::integer as categories
  from public.arxiv_categories c
 group by c.archive;

comment on view analytics.archives is
    'arXiv archives (the part of a category code before the dot) with long name, group and number of categories.';

comment on column analytics.archives.legacy is 'True when every category of the archive is legacy (1990s archives).';

-- analytics.category_stats: per category, how many papers list it (as primary or at all), since
-- when, and how many have vectors. Every taxonomy category appears (0 papers included), and so does
-- any code found in the data that the taxonomy lacks (with null names).
create or replace view analytics.category_stats as
with listed as (
    select pc.category,
           count(*) filter (where pc.is_primary) as papers,
           count(*) as papers_with_cross_lists,
           min(pc.published) as first_published,
           max(pc.published) as last_published
      from analytics.paper_categories pc
     group by pc.category
)
select coalesce(c.code, l.category) as category,
       c.name as category_name,
       coalesce(c.archive, split_part(l.category, '.', 1)) as archive,
       c.archive_name,
       c.group_name,
       c.status,
       coalesce(l.papers, 0) as papers,
       coalesce(l.papers_with_cross_lists, 0) as papers_with_cross_lists,
       round(1 - coalesce(l.papers, 0)::numeric / nullif(l.papers_with_cross_lists, 0), 3) as cross_list_share,
       l.first_published,
       l.last_published
  from public.arxiv_categories c
  full join listed l on l.category = c.code;

comment on view analytics.category_stats is
    'Per category: papers with it as primary category, papers listing it at all, share of cross-lists, '
    'first and last publication; every taxonomy category appears, with long names.';

comment on column analytics.category_stats.papers is 'Papers whose main category this is.';

comment on column analytics.category_stats.papers_with_cross_lists is 'Papers listing this category, as primary or cross-list.';

comment on column analytics.category_stats.cross_list_share is 'Share of papers_with_cross_lists that are cross-lists (null without papers).';

-- analytics.monthly_category_counts: papers per month (of v1, UTC) and category.
-- For trend charts; papers counts the main category only, papers_with_cross_lists all listings.
create or replace view analytics.monthly_category_counts as
select pc.published_month as month,
       pc.category,
       min(pc.category_name) as category_name,
       min(pc.archive) as archive,
       min(pc.archive_name) as archive_name,
       min(pc.group_name) as group_name,
       count(*) filter (where pc.is_primary) as papers,
       count(*) as papers_with_cross_lists
  from analytics.paper_categories pc
 where pc.published_month is not null
 group by pc.published_month, pc.category;

comment on view analytics.monthly_category_counts is
    'Papers per month (first version, UTC) and category: papers = main category, '
    'papers_with_cross_lists = listed as primary or cross-list. Months without papers have no row.';

comment on column analytics.monthly_category_counts.month is 'First day of the month (UTC).';

-- analytics.monthly_archive_counts: papers per month (of v1, UTC) and archive.
-- For trend charts at the level of cs, math, hep-th, ...
create or replace view analytics.monthly_archive_counts as
select pc.published_month as month,
       pc.archive,
       a.archive_name,
       a.group_name,
       count(*) filter (where pc.is_primary) as papers,
       count(distinct pc.paper_id) as papers_with_cross_lists
  from analytics.paper_categories pc
  left join analytics.archives a on a.archive = pc.archive
 where pc.published_month is not null
 group by pc.published_month, pc.archive, a.archive_name, a.group_name;

comment on view analytics.monthly_archive_counts is
    'Papers per month (first version, UTC) and archive: papers = main category in the archive, '
    'papers_with_cross_lists = listed in any of its categories. Months without papers have no row.';

comment on column analytics.monthly_archive_counts.month is 'First day of the month (UTC).';

-- analytics.paper_embeddings: each paper's vector (halfvec(256), unit length), for SQL users who
-- compute with vectors (averages of a set of papers, distances). Kept out of analytics.papers so BI
-- tools do not fetch 256 numbers per row.
create or replace view analytics.paper_embeddings as
select p.id as paper_id, p.arxiv_id, p.embedding
  from public.papers p
 where p.embedding is not null;

comment on view analytics.paper_embeddings is
    'The vector of each paper that has one: halfvec(256), unit length; compare with <=> (cosine distance).';

comment on column analytics.paper_embeddings.embedding is
    'halfvec(256) in this database''s embedding space (see analytics.embedding_space).';

-- analytics.embedding_space: which model made the vectors and how they were reduced to 256
-- dimensions. For people who bring their own query vectors (see analytics.project_embedding).
create or replace view analytics.embedding_space as
select s.model, s.native_dimensions, s.dimensions, s.projection, s.explained_variance,
       s.fitted_on_papers, s.recorded_at
  from public.embedding_space s;

comment on view analytics.embedding_space is
    'The embedding space of the papers'' vectors: model, native width, projection to 256 dimensions.';

comment on column analytics.embedding_space.native_dimensions is
    'Width of the model''s vectors; analytics.project_embedding takes a real[] of this length.';

-- analytics.search_papers_by_vector: the k papers nearest to a halfvec(256) query by cosine
-- similarity (HNSW), with optional filters (category or archive, inclusive date range).
create or replace function analytics.search_papers_by_vector(
    q halfvec(256), k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, similarity double precision
)
language sql stable security definer
set search_path = public, pg_temp
begin atomic
    select * from public.search_papers_by_vector(q, k, category, published_from, published_to);
end;

comment on function analytics.search_papers_by_vector(halfvec, integer, text, date, date) is
    'The k papers nearest to a halfvec(256) query vector by cosine similarity, with optional filters '
    '(category: code or archive; published_from/published_to: inclusive dates).';

-- analytics.search_papers_semantic: search by meaning for a text query and its halfvec(256)
-- embedding: the nearest papers by cosine similarity (HNSW) and the papers of the query's rarest words,
-- ordered by similarity alone (public.search_papers_semantic), with optional filters.
create or replace function analytics.search_papers_semantic(
    q text, q_embedding halfvec(256), k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, similarity double precision
)
language sql stable security definer
set search_path = public, pg_temp
begin atomic
    select * from public.search_papers_semantic(q, q_embedding, k, category, published_from, published_to);
end;

comment on function analytics.search_papers_semantic(text, halfvec, integer, text, date, date) is
    'Search by meaning for a text query and its embedding: the k papers most similar to the embedding among '
    'its nearest papers and the papers of its rarest words, with optional filters.';

-- analytics.similar_papers: the k papers most similar to one paper (itself excluded).
create or replace function analytics.similar_papers(
    paper_arxiv_id text, k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, similarity double precision
)
language sql stable security definer
set search_path = public, pg_temp
begin atomic
    select * from public.similar_papers(paper_arxiv_id, k, category, published_from, published_to);
end;

comment on function analytics.similar_papers(text, integer, text, date, date) is
    'The k papers most similar to the paper with this arXiv id (itself excluded), by cosine similarity, '
    'with optional filters.';

-- analytics.search_papers_by_text: full-text search (websearch syntax: "phrases", or, -word) over
-- title, authors and abstract, best k by ts_rank_cd.
create or replace function analytics.search_papers_by_text(
    q text, k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, rank real
)
language sql stable security definer
set search_path = public, pg_temp
begin atomic
    select * from public.search_papers_by_text(q, k, category, published_from, published_to);
end;

comment on function analytics.search_papers_by_text(text, integer, text, date, date) is
    'Full-text search in web-search syntax over title, authors and abstract; the best k by rank, '
    'with optional filters.';

-- analytics.search_papers_hybrid: hybrid search (public.search_papers_hybrid): the vector and
-- full-text candidates scored by cosine similarity + keyword_weight x the share of the query's
-- rarity-weighted words each paper holds; semantic_rank and keyword_rank say where each paper came from.
create or replace function analytics.search_papers_hybrid(
    q text, q_embedding halfvec(256), k integer default 10,
    category text default null, published_from date default null, published_to date default null,
    candidates integer default 60, keyword_weight double precision default 0.5
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, score double precision, semantic_rank bigint, keyword_rank bigint,
    similarity double precision, keyword_coverage double precision
)
language sql stable security definer
set search_path = public, pg_temp
begin atomic
    select * from public.search_papers_hybrid(q, q_embedding, k, category, published_from, published_to,
                                              candidates, keyword_weight);
end;

comment on function analytics.search_papers_hybrid(text, halfvec, integer, text, date, date, integer, double precision) is
    'Hybrid search: full-text and vector candidates scored by cosine similarity + keyword_weight x the '
    'share of the query''s rarity-weighted words each paper holds, with optional filters.';

-- analytics.project_embedding: a native vector of the recorded model (a real[] of
-- native_dimensions numbers, e.g. from a notebook) -> the halfvec(256) that the search functions take.
create or replace function analytics.project_embedding(native real[])
returns halfvec(256)
language sql stable security definer
set search_path = public, pg_temp
begin atomic
    select public.project_embedding(native);
end;

comment on function analytics.project_embedding(real[]) is
    'Projects a vector of the recorded embedding model (real[] of analytics.embedding_space.native_dimensions) '
    'to the halfvec(256) the papers use, exactly as the loader did.';

-- apply_analytics_privileges: who may read what. Not for analysts: the migration and
-- `atlas db upgrade` call it. The reader role gets CONNECT, USAGE on analytics, SELECT on its views
-- and EXECUTE on its functions, and nothing else; PUBLIC loses what would let any role reach the
-- app's data or write (EXECUTE on the app's functions in public, TEMP, CREATE on public, creating
-- large objects). USAGE on
-- public stays, and so does EXECUTE on extension functions: the halfvec type and operators need them.
create or replace procedure apply_analytics_privileges(reader name default 'atlas_reader')
language plpgsql
set search_path = public, pg_temp
as $$
declare
    routine regprocedure;
begin
    revoke all on schema analytics from public;
    revoke all on all tables in schema analytics from public;
    revoke execute on all routines in schema analytics from public;
    for routine in
        select p.oid::regprocedure
          from pg_proc p
         where p.pronamespace = 'public'::regnamespace
           and p.prokind in ('f', 'p')
           and not exists (select from pg_depend d
                            where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
    loop
        execute pg_catalog.format('revoke execute on routine %s from public', routine);
    end loop;
    if pg_catalog.has_schema_privilege('public'::name, 'public'::text, 'CREATE'::text) then
        revoke create on schema public from public;  -- PostgreSQL < 15 grants it by default
    end if;
    execute pg_catalog.format('revoke temporary on database %I from public', pg_catalog.current_database());
    if (select rolsuper from pg_roles where rolname = current_user) then
        -- Any role may create large objects, a write outside every table; only a superuser can stop it.
        revoke execute on function pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer),
            pg_catalog.lo_from_bytea(oid, bytea) from public;
    end if;

    if exists (select from pg_roles where rolname = reader) then
        -- whatever else the role may have been given in this database goes first
        execute pg_catalog.format('revoke all on all tables in schema public from %I', reader);
        execute pg_catalog.format('revoke all on all sequences in schema public from %I', reader);
        execute pg_catalog.format('revoke all on all routines in schema public from %I', reader);
        execute pg_catalog.format('revoke create on schema public from %I', reader);
        execute pg_catalog.format('revoke create on schema analytics from %I', reader);
        execute pg_catalog.format('revoke create, temporary on database %I from %I', pg_catalog.current_database(), reader);
        execute pg_catalog.format('grant connect on database %I to %I', pg_catalog.current_database(), reader);
        execute pg_catalog.format('grant usage on schema analytics to %I', reader);
        execute pg_catalog.format('grant select on all tables in schema analytics to %I', reader);
        execute pg_catalog.format('grant execute on all routines in schema analytics to %I', reader);
    end if;
end;
$$;

comment on procedure apply_analytics_privileges(name) is
    'Grants the reader role read access to schema analytics only and revokes PUBLIC''s defaults that would '
    'reach the app''s data; run by migrations and `atlas db upgrade`.';
