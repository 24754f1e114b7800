-- 075-analytics-search.sql: the title and author searches in schema analytics, beside the vector,
-- similar, text and hybrid searches of 070-analytics.sql, so that analysts and the web map's SQL panel
-- (atlas_sql_runner, which sees only analytics) can call every search of the app in one query.

-- analytics.search_papers_by_title: papers whose title holds the typed words (typos allowed), best first.
create or replace function analytics.search_papers_by_title(
    q text, k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, score double precision
)
language sql stable security definer
set search_path = public, pg_temp
begin atomic
    select * from public.search_papers_by_title(q, k, category, published_from, published_to);
end;

comment on function analytics.search_papers_by_title(text, integer, text, date, date) is
    'Papers whose title contains the typed words (small typos and partial words match), best k first, '
    'with optional filters.';

-- analytics.search_papers_by_author: papers of an author ("Etingof", "P. Etingof", "Pavel Etingof"), newest first.
create or replace function analytics.search_papers_by_author(
    q text, k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, score double precision
)
language sql stable security definer
set search_path = public, pg_temp
begin atomic
    select * from public.search_papers_by_author(q, k, category, published_from, published_to);
end;

comment on function analytics.search_papers_by_author(text, integer, text, date, date) is
    'Papers of an author (full name, or last name with initials), exact full names first, then newest, '
    'with optional filters.';
