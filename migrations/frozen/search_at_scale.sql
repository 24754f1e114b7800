-- Search at 1.2M papers (migration 0008): redefines search_papers_by_vector (search.sql, migration
-- 0002) and search_papers_by_title (search_fields.sql, migration 0006) with the same signatures and
-- results, after the 1.2M-paper benchmark (docs/benchmarks.md, "Scale: 1,200,000 papers").
-- Re-applying is harmless.
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

-- search_papers_by_vector: the k papers nearest to a query vector by cosine similarity.
-- Unfiltered, or with a filter keeping more than atlas.exact_search_max_rows papers (default
-- 50,000, by the planner's estimate): the HNSW index with pgvector 0.8 iterative scans, then an
-- exact scan if it returns fewer than k rows. With a filter keeping fewer: an exact scan of them.
-- For psql users and the API's semantic search.
create or replace function search_papers_by_vector(
    q halfvec(256), k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, similarity double precision
)
language plpgsql stable
set search_path = public, pg_temp
set hnsw.iterative_scan = 'relaxed_order'
as $$
#variable_conflict use_column
declare
    ids bigint[];
    distances double precision[];
    filtered constant boolean := category is not null or published_from is not null or published_to is not null;
    exact_max_rows constant bigint :=
        coalesce(nullif(current_setting('atlas.exact_search_max_rows', true), '')::bigint, 50000);
begin
    if k is null or k < 1 or k > 1000 then
        raise exception 'k must be between 1 and 1000, got %', k;
    end if;
    if not filtered or papers_kept_estimate(category, published_from, published_to) > exact_max_rows then
        select array_agg(h.id order by h.distance), array_agg(h.distance order by h.distance)
          into ids, distances
          from (select p.id, p.embedding <=> q as distance
                  from papers p
                 where p.embedding is not null
                   and paper_matches_filters(p.main_category, p.archive, p.published,
                                             category, published_from, published_to)
                 order by p.embedding <=> q
                 limit k) h;
    end if;
    if coalesce(cardinality(ids), 0) < k then
        -- `+ 0` hides the ordering from the index planner: an exact scan of what the filter keeps.
        -- Dynamic SQL: planned for this call's filter values (a cached generic plan could not drop
        -- the `category is null or ...` branches, and would read the whole table).
        execute 'select array_agg(h.id order by h.distance), array_agg(h.distance order by h.distance)
                   from (select p.id, p.embedding <=> $1 as distance
                           from papers p
                          where p.embedding is not null
                            and paper_matches_filters(p.main_category, p.archive, p.published, $2, $3, $4)
                          order by (p.embedding <=> $1) + 0
                          limit $5) h'
           into ids, distances using q, category, published_from, published_to, k;
    end if;
    return query
        select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
               1 - r.distance
          from unnest(ids, distances) with ordinality as r(id, distance, position)
          join papers p on p.id = r.id
         order by r.position;
end;
$$;

comment on function search_papers_by_vector(halfvec, integer, text, date, date) is
    'k nearest papers to a halfvec(256) query by cosine similarity (HNSW; an exact scan when a filter '
    'keeps few papers), with optional filters.';

-- title_words_query: the tsquery that a title's words (to_tsvector('english', fold_text(title)),
-- the expression of the index papers_title_words) match when the title holds the typed words:
-- every word of a query of one or two words, all but any one of three or more (that one may be
-- misspelt or half typed). Stop words do not count, nor words after the first 12 distinct ones.
-- Null when the query has no word but stop words.
create or replace function title_words_query(q text) returns tsquery
language sql immutable parallel safe
set search_path = public, pg_temp
return (
    with typed as (
        select (array_agg(w.lexeme order by w.first))[1:12] as lexemes
          from (select t.lexeme, min(pos) as first
                  from unnest(to_tsvector('english', fold_text(q))) t, unnest(t.positions) pos
                 group by t.lexeme) w
    ), terms as (
        select i, '''' || replace(replace(t.lexemes[i], '\', '\\'), '''', '''''') || '''' as term,
               cardinality(t.lexemes) as n
          from typed t, generate_subscripts(t.lexemes, 1) i
    )
    select case
        when max(n) is null then null
        when max(n) < 3 then string_agg(term, ' & ')::tsquery
        else (select string_agg('(' || (select string_agg(o.term, ' & ' order by o.i)
                                          from terms o where o.i <> left_out.i) || ')', ' | ')
                from terms left_out)::tsquery
    end
      from terms
);

-- title_any_word_query: the tsquery of titles holding any one of the typed words (stop words
-- excepted), for search_papers_by_title's second step (queries of two words). Null when the query has no word but stop words.
create or replace function title_any_word_query(q text) returns tsquery
language sql immutable parallel safe
set search_path = public, pg_temp
return (
    select string_agg('''' || replace(replace(t.lexeme, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery
      from unnest(to_tsvector('english', fold_text(q))) t
);

-- search_papers_by_title: papers whose title contains the typed words (trigram word similarity,
-- so small typos and partial words still match); a title containing the whole query ranks first,
-- then titles holding every word of it, then by similarity. The ranking and the word similarity
-- threshold (0.5) are those of search_fields.sql (migration 0006); how candidates are found is new.
-- Why: 0006 ranked every title passing `q <% title` through the pg_trgm GIN index, whose scan
-- reads the posting lists of the query's trigrams, and common ones ('the', 'ion') hold most
-- titles: at 1.2M papers p50 0.85 s a full title (1.4 s with the 2 cores under load 5), 5 s for a
-- phrase of two common words and 25 s for 'the' (under load 5). Measured instead: a threshold of
-- 0.8 on the same index, 0.6 s a title; a GiST trigram index (siglen 128) with KNN ordering by
-- `<<->`, 110 s to build, 308 MB,
-- 1.8 s a query (long titles saturate the signatures); papers.search_tsv (title, authors and
-- abstract in one index), 0.1-0.8 s: the title words' posting lists include every abstract.
-- Now: the candidates are the titles holding the typed words (title_words_query), found by the
-- GIN index papers_title_words on the titles' own English words (migration 0008: 33 s to build
-- at 1.2M, 47 MB); for a query of two words (where "all but one" would be any one) of which
-- fewer than k titles pass `q <% title`, titles holding either word add theirs (the first 20,000
-- such titles, a bounded step: 'minimization of automata' finds "On the Hopcroft's minimization
-- algorithm", which lacks 'automata'); the trigram index
-- adds its candidates only when none of those pass (two typos, a half-typed word in a query of
-- two words). At 1.2M papers (p50, 50
-- real titles, load average 1-2): 9 ms a full title, 23 ms its first three words, 23 ms the title
-- with a typo (p95 0.9 s: the trigram step), 95 ms a common word or two ('the', 'graph').
-- At most 1,000 candidates a step, so a query of common words ranks 1,000 of its titles, not all of them; and a
-- title found well (all or all but one of the words) keeps out weaker trigram-only matches, so a
-- query may now return fewer than k rows where 0006 filled k with them.
create or replace function search_papers_by_title(
    q text, k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, score double precision
)
language plpgsql stable
set search_path = public, pg_temp
set pg_trgm.word_similarity_threshold = 0.5
as $$
#variable_conflict use_column
declare
    candidate_limit constant integer := greatest(k, 1000);
    words tsquery;
    ids bigint[] := '{}';
    passing integer := 0;  -- candidates that pass `q <% title`, counted up to k
    added bigint[];
begin
    if k is null or k < 1 or k > 1000 then
        raise exception 'k must be between 1 and 1000, got %', k using errcode = 'invalid_parameter_value';
    end if;
    if q is null or btrim(q) = '' then
        raise exception 'the title query is empty' using errcode = 'invalid_parameter_value';
    end if;
    words := title_words_query(q);
    if words is not null then
        ids := array(select p.id from papers p
                      where to_tsvector('english', fold_text(p.title)) @@ words
                        and paper_matches_filters(p.main_category, p.archive, p.published,
                                                  category, published_from, published_to)
                      limit candidate_limit);
        passing := (select count(*) from (select from papers p where p.id = any(ids) and q <% p.title limit k) s);
    end if;
    if passing < k and cardinality(tsvector_to_array(to_tsvector('english', fold_text(q)))) = 2 then
        added := array(select c.id
                         from (select p.id, p.title from papers p
                                where to_tsvector('english', fold_text(p.title)) @@ title_any_word_query(q)
                                  and p.id <> all(ids)
                                  and paper_matches_filters(p.main_category, p.archive, p.published,
                                                            category, published_from, published_to)
                                limit 20000) c
                        where q <% c.title
                        limit candidate_limit);
        ids := ids || added;
        passing := passing + cardinality(added);  -- each passes `q <% title`
    end if;
    if passing = 0 then
        ids := ids || array(select p.id from papers p
                             where q <% p.title
                               and paper_matches_filters(p.main_category, p.archive, p.published,
                                                         category, published_from, published_to)
                             limit candidate_limit);
    end if;
    return query
    select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
           (word_similarity(q, p.title)
            + case when to_tsvector('simple', fold_text(p.title)) @@ plainto_tsquery('simple', fold_text(q))
                   then 0.5 else 0 end
            + case when strpos(fold_text(p.title), fold_text(btrim(q))) > 0 then 1 else 0 end)::double precision
           as score
      from papers p
     where p.id = any(ids) and q <% p.title
     order by score desc, length(p.title), p.id
     limit k;
end
$$;
