-- The shared search filters, declared STABLE so that the planner inlines them (migration 0007).
-- search.sql (migration 0002) declared paper_matches_filters IMMUTABLE, but comparing a
-- timestamptz with a date depends on the TimeZone setting, so its body is only stable, and
-- PostgreSQL does not inline a function whose body is less immutable than the function: every
-- filter ran as an opaque call, no index on main_category, archive or published could serve it,
-- and an exact scan of one archive read the whole papers table (6.5 s at 1.2M papers for the 3%
-- of q-bio, docs/benchmarks.md). Inlined, the same filter is a bitmap scan of those indexes.
-- Re-applying is harmless.

-- paper_matches_filters: whether one paper passes the shared filters (inlined by the planner).
create or replace function paper_matches_filters(
    p_main_category text, p_archive text, p_published timestamptz,
    category text, published_from date, published_to date
) returns boolean
language sql stable parallel safe
return (category is null or p_main_category = category or p_archive = category)
   and (published_from is null or p_published >= published_from)
   and (published_to is null or p_published < published_to + 1);
