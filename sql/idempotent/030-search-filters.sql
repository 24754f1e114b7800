-- 030-search-filters.sql: The shared search filters and the planner's estimate of how many papers a filter keeps.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.

-- The shared search filters, declared STABLE so that the planner inlines them (migration 0007).
-- search.sql (migration 0002) declared paper_matches_filters IMMUTABLE, but comparing a
-- timestamptz with a date depends on the TimeZone setting, so its body is only stable, and
-- PostgreSQL does not inline a function whose body is less immutable than the function: every
-- filter ran as an opaque call, no index on main_category, archive or published could serve it,
-- and an exact scan of one archive read the whole papers table (6.5 s at 1.2M papers for the 3%
-- of q-bio, docs/benchmarks.md). Inlined, the same filter is a bitmap scan of those indexes.

-- paper_matches_filters: whether one paper passes the shared filters (inlined by the planner).
create or replace function paper_matches_filters(
    p_main_category text, p_archive text, p_published timestamptz,
    category text, published_from date, published_to date
) returns boolean
language sql stable parallel safe
return (category is null or p_main_category = category or p_archive = category)
   and (published_from is null or p_published >= published_from)
   and (published_to is null or p_published < published_to + 1);

-- Search at 1.2M papers (migration 0008): redefines search_papers_by_vector (search.sql, migration
-- 0002) and search_papers_by_title (search_fields.sql, migration 0006) with the same signatures and
-- results, after the 1.2M-paper benchmark (docs/benchmarks.md, "Scale: 1,200,000 papers").
--
-- search_papers_by_vector: a selective filter now gets an exact scan of the papers it keeps.
-- Measured on atlas_scale (1.2M papers, 2 shared cores, load average 1.5-3, warm cache, 100 query
-- vectors of papers, recall@10 against the exact answer over the filtered papers). The iterative
-- HNSW scan returned k rows but not the nearest: one archive of 3.2% (q-bio) had recall 0.59 at
-- p50 126 ms, p95 427 ms; the raw scan gave recall 0.29-0.57 for every archive of 0.8-3.5% tried,
-- at 150-400 ms (the walk starts near the query, and the few papers of a distant archive it meets
-- are not the nearest ones). Date filters fare better (a year of 5.8%: recall 0.94, p50 11 ms;
-- a quarter of 1.3%: 60 ms; a month of 0.4%: 126 ms). An exact scan costs about 2.3 us a kept
-- paper (its heap page and one halfvec(256) distance; 9,107 papers 21 ms, 38,906 papers 90 ms,
-- 70,115 papers 158 ms), in proportion to the papers kept, not to the table.
-- Threshold: 50,000 papers, about 115 ms of exact scan: below the iterative scan's time for every
-- archive filter of under 4% at 1.2M, a little above it for date ranges of 2-4%, which gain recall
-- 1 for it. After: q-bio recall 1.00 at p50 97 ms, p95 116 ms; one small archive (hep-th, 0.8%)
-- 0.85 at 244 ms -> 1.00 at 24 ms.
-- How many papers a filter keeps is the planner's estimate (papers_kept_estimate: EXPLAIN, about
-- 0.3 ms, from the statistics of main_category, archive and published; for q-bio 42,282 against
-- 38,906). A bounded count (`select count(*) from (select 1 ... limit 50001)`) costs as much as the
-- scan it would save: 62 ms for q-bio through the bitmap heap scan, 27-45 ms as an index-only
-- scan of one B-tree. An unfiltered search skips the estimate. Set `atlas.exact_search_max_rows`
-- in a session to move the threshold (0: the HNSW scan for every filter).
--
-- search_papers_by_title: a new index, papers_title_words; see the function's comment below.

-- papers_kept_estimate: how many papers with an embedding the shared search filters keep, as the
-- planner estimates it (EXPLAIN: column statistics, no table read, about 0.3 ms). VOLATILE only
-- because PostgreSQL runs no EXPLAIN in a STABLE function; it reads and writes nothing.
create or replace function papers_kept_estimate(
    category text default null, published_from date default null, published_to date default null
) returns double precision
language plpgsql volatile
set search_path = public, pg_temp
as $$
declare
    plan json;
begin
    -- USING values are constants to the planner: the `category is null or ...` branches fold away.
    execute 'explain (format json) select 1 from papers p where p.embedding is not null and '
            'paper_matches_filters(p.main_category, p.archive, p.published, $1, $2, $3)'
       into plan using category, published_from, published_to;
    return (plan -> 0 -> 'Plan' ->> 'Plan Rows')::double precision;
end;
$$;

comment on function papers_kept_estimate(text, date, date) is
    'The planner''s estimate of how many embedded papers the search filters keep (no table read).';
