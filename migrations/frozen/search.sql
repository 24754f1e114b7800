-- Neighbours and search over papers, usable from psql with no app running.
-- Applied by migration 0002; every statement is `create or replace`, so re-applying is harmless.
-- Filters shared by all search functions:
--   category        main category ('cs.CL') or archive ('cs', 'hep-th'); null = all
--   published_from  first day included (published >= this date); null = open
--   published_to    last day included (published < the day after); null = open

-- paper_matches_filters: whether one paper passes the shared filters (inlined by the planner).
create or replace function paper_matches_filters(
    p_main_category text, p_archive text, p_published timestamptz,
    category text, published_from date, published_to date
) returns boolean
language sql immutable parallel safe
return (category is null or p_main_category = category or p_archive = category)
   and (published_from is null or p_published >= published_from)
   and (published_to is null or p_published < published_to + 1);

-- search_papers_by_vector: the k papers nearest to a query vector by cosine similarity.
-- Uses the HNSW index with pgvector 0.8 iterative scans, so filters still yield k rows; when a
-- filter is so selective that the index scan gives up early, falls back to an exact scan of the
-- filtered papers. For psql users and the API's semantic search.
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
begin
    if k is null or k < 1 or k > 1000 then
        raise exception 'k must be between 1 and 1000, got %', k;
    end if;
    select array_agg(h.id order by h.distance), array_agg(h.distance order by h.distance)
      into ids, distances
      from (select p.id, p.embedding <=> q as distance
              from papers p
             where p.embedding is not null
               and paper_matches_filters(p.main_category, p.archive, p.published,
                                         category, published_from, published_to)
             order by p.embedding <=> q
             limit k) h;
    if coalesce(cardinality(ids), 0) < k then
        -- `+ 0` hides the ordering from the index planner: an exact scan of what the filter keeps.
        select array_agg(h.id order by h.distance), array_agg(h.distance order by h.distance)
          into ids, distances
          from (select p.id, p.embedding <=> q as distance
                  from papers p
                 where p.embedding is not null
                   and paper_matches_filters(p.main_category, p.archive, p.published,
                                             category, published_from, published_to)
                 order by (p.embedding <=> q) + 0
                 limit k) h;
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
    'k nearest papers to a halfvec(256) query by cosine similarity (HNSW), with optional filters.';

-- similar_papers: the k papers most similar to one paper (itself excluded), by cosine similarity.
-- Replaces the seed's all-pairs similarity matrix with one HNSW lookup.
create or replace function similar_papers(
    paper_arxiv_id text, k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, similarity double precision
)
language plpgsql stable
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
    source_id bigint;
    source_embedding halfvec(256);
begin
    select p.id, p.embedding into source_id, source_embedding from papers p where p.arxiv_id = paper_arxiv_id;
    if not found then
        raise exception 'no paper with arxiv_id %', paper_arxiv_id using errcode = 'no_data_found';
    end if;
    if source_embedding is null then
        raise exception 'paper % has no embedding yet (run `atlas embed`)', paper_arxiv_id
            using errcode = 'no_data_found';
    end if;
    return query
        select s.* from search_papers_by_vector(source_embedding, k + 1, category, published_from, published_to) s
         where s.paper_id <> source_id
         limit k;
end;
$$;

comment on function similar_papers(text, integer, text, date, date) is
    'The k papers nearest to the given paper (itself excluded), with cosine similarity.';

-- search_papers_by_text: full-text search over title (weight A), authors (B) and abstract (C),
-- ranked by ts_rank_cd; the query uses web-search syntax ("quoted phrases", or, -excluded).
create or replace function search_papers_by_text(
    q text, k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, rank real
)
language sql stable
set search_path = public, pg_temp
begin atomic
    select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
           ts_rank_cd(p.search_tsv, query, 32) as rank
      from papers p, websearch_to_tsquery('english', q) as query
     where p.search_tsv @@ query
       and paper_matches_filters(p.main_category, p.archive, p.published,
                                 category, published_from, published_to)
     order by rank desc, p.id
     limit least(greatest(k, 1), 1000);
end;

comment on function search_papers_by_text(text, integer, text, date, date) is
    'Full-text search (websearch syntax) over title, authors and abstract, best k by ts_rank_cd.';

-- search_papers_hybrid: reciprocal rank fusion of full-text and vector search.
-- score = sum over both lists of 1 / (rrf_k + rank); a paper found by only one list still counts.
create or replace function search_papers_hybrid(
    q text, q_embedding halfvec(256), k integer default 10,
    category text default null, published_from date default null, published_to date default null,
    candidates integer default 60, rrf_k integer default 60
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, score double precision, semantic_rank bigint, keyword_rank bigint
)
language sql stable
set search_path = public, pg_temp
begin atomic
    with semantic as (
        select s.paper_id, row_number() over (order by s.similarity desc) as r
          from search_papers_by_vector(q_embedding, greatest(candidates, k), category,
                                       published_from, published_to) s
    ), keyword as (
        select t.paper_id, row_number() over (order by t.rank desc, t.paper_id) as r
          from search_papers_by_text(q, greatest(candidates, k), category, published_from, published_to) t
    ), fused as (
        select coalesce(s.paper_id, w.paper_id) as paper_id,
               coalesce(1.0 / (rrf_k + s.r), 0) + coalesce(1.0 / (rrf_k + w.r), 0) as score,
               s.r as semantic_rank, w.r as keyword_rank
          from semantic s full join keyword w on w.paper_id = s.paper_id
    )
    select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
           f.score, f.semantic_rank, f.keyword_rank
      from fused f join papers p on p.id = f.paper_id
     order by f.score desc, p.id
     limit least(greatest(k, 1), 1000);
end;

comment on function search_papers_hybrid(text, halfvec, integer, text, date, date, integer, integer) is
    'Hybrid search: reciprocal rank fusion of search_papers_by_text and search_papers_by_vector.';
