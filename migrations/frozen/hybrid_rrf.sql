-- Frozen for migration 0015's downgrade: search_papers_by_text, search_papers_hybrid (reciprocal rank
-- fusion, rrf_k) and analytics.search_papers_hybrid as sql/idempotent/ defined them at migration 0014.

-- search_papers_by_text: full-text search over title (weight A), authors (B) and abstract (C).
-- A query with web-search operators ("quoted phrases", or, -excluded) keeps their meaning: the
-- papers matching it, by ts_rank_cd. A query of plain words (what a person types: a question of 15
-- words, a few keywords, a title) ranks papers by how many of its words they hold, each word
-- weighted by its rarity (idf = ln(papers / papers holding it)), a word in the title counting half
-- again, ts_rank_cd breaking ties: a paper holding every word still comes first, and when none holds
-- them all (most natural questions), the papers holding most of the rare ones follow. Before, every
-- word was required and a natural question found its paper 4 times in 10 (docs/benchmarks.md,
-- section "search-quality", has today's figures). Candidates come from the GIN index: the papers
-- holding any word that at most atlas.keyword_common_fraction of the papers hold (default 0.05),
-- best 300 (or k) by the rare words' idf; a query of common words only falls back to requiring all.
create or replace function search_papers_by_text(
    q text, k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, rank real
)
language plpgsql stable
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
    query tsquery := websearch_to_tsquery('english'::regconfig, coalesce(q, ''));
    lim constant integer := least(greatest(k, 1), 1000);
    total double precision;
    common_limit integer;
    terms text[];
    idfs double precision[] := '{}';
    df integer;
    rare text[] := '{}';
    rare_idfs double precision[] := '{}';
    candidates bigint[];
    term text;
begin
    if numnode(query) = 0 then
        return;
    end if;
    terms := array(select t.lexeme from unnest(to_tsvector('english'::regconfig, q)) t);
    if q ~ '"' or q ~* '(^|\s)or(\s|$)' or q ~ '(^|\s)-\S' or cardinality(terms) < 2 then
        -- Operators (phrases, or, -excluded) or a single word: the papers matching the query as typed.
        return query
            select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
                   ts_rank_cd(p.search_tsv, query, 32) as rank
              from papers p
             where p.search_tsv @@ query
               and paper_matches_filters(p.main_category, p.archive, p.published,
                                         category, published_from, published_to)
             order by rank desc, p.id
             limit lim;
        return;
    end if;
    total := greatest((select c.reltuples from pg_class c where c.oid = 'papers'::regclass), 1);
    common_limit := greatest(100, (total * coalesce(nullif(current_setting('atlas.keyword_common_fraction', true),
                                                            '')::double precision, 0.05))::integer);
    foreach term in array terms loop
        -- Papers holding the word, counted up to the common limit (a common word's idf is capped).
        select count(*) into df
          from (select 1 from papers p where p.search_tsv @@ quote_literal(term)::tsquery limit common_limit) h;
        idfs := idfs || ln(total / greatest(df, 1))::double precision;
        if df > 0 and df < common_limit then
            rare := rare || term;
            rare_idfs := rare_idfs || ln(total / df)::double precision;
        end if;
    end loop;
    if cardinality(rare) = 0 then
        candidates := array(select p.id from papers p where p.search_tsv @@ query
                              and paper_matches_filters(p.main_category, p.archive, p.published,
                                                        category, published_from, published_to)
                             order by ts_rank_cd(p.search_tsv, query, 32) desc, p.id limit greatest(lim, 300));
    else
        candidates := array(
            select h.id
              from unnest(rare, rare_idfs) as r(term, idf)
              cross join lateral (select p.id from papers p
                                   where p.search_tsv @@ quote_literal(r.term)::tsquery
                                     and paper_matches_filters(p.main_category, p.archive, p.published,
                                                               category, published_from, published_to)) h
             group by h.id
             order by sum(r.idf) desc, h.id
             limit greatest(lim, 300));
    end if;
    return query
        select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
               (s.score + ts_rank_cd(p.search_tsv, or_query, 32))::real as rank
          from papers p
          cross join (select string_agg(quote_literal(t), ' | ')::tsquery as or_query from unnest(terms) t) o
          cross join lateral (
              select sum(w.idf * (case when p.search_tsv @@ quote_literal(w.term)::tsquery then 1 else 0 end
                                  + case when p.search_tsv @@ (quote_literal(w.term) || ':A')::tsquery
                                         then 0.5 else 0 end)) as score
                from unnest(terms, idfs) as w(term, idf)) s
         where p.id = any(candidates)
         order by rank desc, p.id
         limit lim;
end
$$;

comment on function search_papers_by_text(text, integer, text, date, date) is
    'Full-text search over title, authors and abstract, best k: websearch syntax as typed, or for plain '
    'words the papers holding most of them, weighted by rarity.';

-- search_papers_hybrid: reciprocal rank fusion of full-text and vector search.
-- score = sum over both lists of 1 / (rrf_k + rank); a paper found by only one list still counts.
-- rrf_k 10 (was 60): better on every set of the tune split, with keyword and semantic weighted
-- alike (docs/benchmarks.md, section "search-hybrid").
create or replace function search_papers_hybrid(
    q text, q_embedding halfvec(256), k integer default 10,
    category text default null, published_from date default null, published_to date default null,
    candidates integer default 60, rrf_k integer default 10
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

-- analytics.search_papers_hybrid: reciprocal rank fusion of text search (q) and vector search
-- (q_embedding); semantic_rank and keyword_rank say where each paper came from.
create or replace function analytics.search_papers_hybrid(
    q text, q_embedding halfvec(256), k integer default 10,
    category text default null, published_from date default null, published_to date default null,
    candidates integer default 60, rrf_k integer default 60
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, score double precision, semantic_rank bigint, keyword_rank bigint
)
language sql stable security definer
set search_path = public, pg_temp
begin atomic
    select * from public.search_papers_hybrid(q, q_embedding, k, category, published_from, published_to,
                                              candidates, rrf_k);
end;

comment on function analytics.search_papers_hybrid(text, halfvec, integer, text, date, date, integer, integer) is
    'Hybrid search: reciprocal rank fusion of full-text search for q and vector search for q_embedding, '
    'with optional filters.';

