-- 040-search.sql: Search in SQL: by vector, by meaning for a text query, similar papers, full text, hybrid, title and author.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.

-- search_papers_by_vector: the k papers nearest to a query vector by cosine similarity.
-- Unfiltered, or with a filter keeping more than atlas.exact_search_max_rows papers (default
-- 50,000, by the planner's estimate): the HNSW index with pgvector 0.8 iterative scans, then an
-- exact scan if it returns fewer than k rows. With a filter keeping fewer: an exact scan of them.
-- For psql users, similar papers, and the vector half of semantic and hybrid search.
-- Search effort: the HNSW scan runs with hnsw.ef_search = atlas.search_ef_search (default 100, at
-- least k), set for this function only: the database-wide 40 stays the neighbour table's. At 40 the
-- 100k sample's questions lost up to 0.05 MRR@10 against exact search over the same vectors. A text
-- query's semantic search (search_papers_semantic, below) adds the papers of its rarest words, which
-- recovers what 100 loses on questions; the figures of each effort are in docs/benchmarks.md, section
-- "search-anchors".
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
set hnsw.ef_search = 100  -- restored at exit, with the set_config below (the function's own effort)
as $$
#variable_conflict use_column
declare
    ids bigint[];
    effort constant integer :=
        coalesce(nullif(current_setting('atlas.search_ef_search', true), '')::integer, 100);
    distances double precision[];
    filtered constant boolean := category is not null or published_from is not null or published_to is not null;
    exact_max_rows constant bigint :=
        coalesce(nullif(current_setting('atlas.exact_search_max_rows', true), '')::bigint, 50000);
begin
    if k is null or k < 1 or k > 1000 then
        raise exception 'k must be between 1 and 1000, got %', k;
    end if;
    if not filtered or papers_kept_estimate(category, published_from, published_to) > exact_max_rows then
        -- Local to this call: the `set hnsw.ef_search` clause above restores the caller's value at exit.
        perform set_config('hnsw.ef_search', least(greatest(effort, k), 1000)::text, true);
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

-- semantic_anchor_words: the words of a text query that point at few papers: its full-text lexemes
-- (english) that at least one and at most atlas.semantic_anchor_papers papers hold (default 200, from
-- paper_word_counts), the atlas.semantic_anchor_words rarest (default 1), rarest first.
create or replace function semantic_anchor_words(q text)
returns text[]
language sql stable
set search_path = public, pg_temp
begin atomic
    select coalesce(array_agg(a.word order by a.papers, a.word), '{}')
      from (select c.word, c.papers  -- a tsvector holds each lexeme once
              from unnest(to_tsvector('english'::regconfig, coalesce(q, ''))) t
              join paper_word_counts c on c.word = t.lexeme
             where c.papers between 1 and
                   coalesce(nullif(current_setting('atlas.semantic_anchor_papers', true), '')::integer, 200)
             order by c.papers, c.word
             limit coalesce(nullif(current_setting('atlas.semantic_anchor_words', true), '')::integer, 1)) a;
end;

comment on function semantic_anchor_words(text) is
    'The rarest words of a query (at most atlas.semantic_anchor_words, each held by at most '
    'atlas.semantic_anchor_papers papers): the anchors of search_papers_semantic.';

-- search_papers_semantic: search by meaning for a text query and its embedding, what the API's
-- semantic mode runs. The k papers most similar to q_embedding (cosine) among the hits of
-- search_papers_by_vector and the anchors: the papers holding the query's rarest words
-- (semantic_anchor_words). A question worded unlike the abstracts can lead the HNSW search into a
-- region without its answer (a natural question of the 100k sample misses its paper even at
-- ef_search 200); the anchors add such papers as candidates and the exact similarity decides, so a word adds
-- candidates, never score: the hits are never farther from exact search than search_papers_by_vector's.
-- At most atlas.semantic_anchor_words x atlas.semantic_anchor_papers papers are rescored (1 x 200 by
-- default). With them, ef_search 100 equals exact search's MRR@10 on every query set of the 100k
-- sample, where the HNSW search alone needed 200 and still missed that question (docs/benchmarks.md,
-- section "search-anchors", where the defaults were chosen on the tune split).
create or replace function search_papers_semantic(
    q text, q_embedding halfvec(256), k integer default 10,
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
    anchors constant text[] := semantic_anchor_words(q);
begin
    return query
        with pool as (
            select s.paper_id as id
              from search_papers_by_vector(q_embedding, k, category, published_from, published_to) s
            union
            select h.id
              from unnest(anchors) as a(word)
             cross join lateral (select p.id from papers p
                                  where p.search_tsv @@ quote_literal(a.word)::tsquery
                                    and p.embedding is not null
                                    and paper_matches_filters(p.main_category, p.archive, p.published,
                                                              category, published_from, published_to)) h
        )
        select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
               1 - (p.embedding <=> q_embedding)
          from pool join papers p on p.id = pool.id
         order by 7 desc, p.id
         limit k;
end;
$$;

comment on function search_papers_semantic(text, halfvec, integer, text, date, date) is
    'Search by meaning for a text query: search_papers_by_vector''s hits and the papers of the query''s '
    'rarest words, the k most similar to its embedding (cosine).';

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

-- query_word_idfs: the words of a query as full-text lexemes (english), each with its rarity,
-- idf = ln(papers / papers holding it), the papers holding it capped at the common limit
-- (atlas.keyword_common_fraction of the papers, default 0.05, at least 100), and whether it is rare:
-- held by some paper and by fewer than that limit (rare words draw keyword candidates from the GIN
-- index). One definition of a word's weight for search_papers_by_text and search_papers_hybrid.
-- The papers holding a word come from paper_word_counts (migration 0017, kept by `atlas load`): one
-- key lookup a word; counting them per query read up to 60,000 heap rows a word at 1.2M papers.
create or replace function query_word_idfs(q text)
returns table (term text, idf double precision, rare boolean)
language plpgsql stable
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
    total constant double precision :=
        greatest((select c.reltuples from pg_class c where c.oid = 'papers'::regclass), 1);
    common_limit constant integer := greatest(100, (total * coalesce(
        nullif(current_setting('atlas.keyword_common_fraction', true), '')::double precision, 0.05))::integer);
    df integer;
begin
    for term in select t.lexeme from unnest(to_tsvector('english'::regconfig, coalesce(q, ''))) t loop
        -- Papers holding the word, capped at the common limit (a common word's idf is capped).
        df := least(coalesce((select c.papers from paper_word_counts c where c.word = term), 0), common_limit);
        idf := ln(total / greatest(df, 1));
        rare := df > 0 and df < common_limit;
        return next;
    end loop;
end
$$;

comment on function query_word_idfs(text) is
    'The words of a query as full-text lexemes with their rarity (idf) and whether they are rare enough '
    'to draw keyword candidates; the word weights of search_papers_by_text and search_papers_hybrid.';

-- query_word_coverage: the share of a query's word weight (the sum of its words' idf, from
-- query_word_idfs) that a paper's full-text vector holds: 1 when it holds every word, 0 when none,
-- 0.8 when it lacks only words worth a fifth of the weight. Hybrid search adds it to the similarity.
create or replace function query_word_coverage(doc tsvector, terms text[], idfs double precision[])
returns double precision
language sql immutable parallel safe
set search_path = public, pg_temp
begin atomic
    select coalesce(sum(w.idf) filter (where w.term = any (l.lexemes)) / nullif(sum(w.idf), 0), 0)
      from unnest(terms, idfs) as w(term, idf)
     cross join (select tsvector_to_array(doc) as lexemes) l;
end;

comment on function query_word_coverage(tsvector, text[], double precision[]) is
    'The share (0-1) of the query words'' weight (sum of idf) held by a full-text vector.';

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
-- The rare words draw candidates rarest first while the papers they hold add up to at most
-- atlas.keyword_candidate_rows (default 10,000; the rarest always draws): at 1.2M papers a word held by
-- 5% of them holds 60,000, and a title of such words read hundreds of thousands of rows. 10,000 is the
-- smallest that keeps the tune split's MRR@10 of keyword and hybrid search on every query set
-- (docs/benchmarks.md, section "search-keyword-candidates").
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
    terms text[];
    idfs double precision[] := '{}';
    rare text[] := '{}';
    rare_idfs double precision[] := '{}';
    candidates bigint[];
    candidate_rows constant bigint :=
        coalesce(nullif(current_setting('atlas.keyword_candidate_rows', true), '')::bigint, 10000);
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
    select coalesce(array_agg(w.term), '{}'), coalesce(array_agg(w.idf), '{}'),
           coalesce(array_agg(w.term) filter (where w.rare), '{}'),
           coalesce(array_agg(w.idf) filter (where w.rare), '{}')
      into terms, idfs, rare, rare_idfs
      from query_word_idfs(q) w;
    select coalesce(array_agg(b.term order by b.position), '{}'), coalesce(array_agg(b.idf order by b.position), '{}')
      into rare, rare_idfs
      from (select r.term, r.idf, row_number() over w as position,
                   sum(coalesce(c.papers, 0)) over (w rows unbounded preceding) as running
              from unnest(rare, rare_idfs) as r(term, idf)
              left join paper_word_counts c on c.word = r.term
            window w as (order by r.idf desc, r.term)) b
     where b.position = 1 or b.running <= candidate_rows;
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

-- search_papers_hybrid: meaning and words in one score. The candidates are the best `candidates`
-- papers of search_papers_by_vector and of search_papers_by_text; each is scored
--   score = similarity (cosine of its vector to q_embedding) + keyword_weight * keyword_coverage,
-- where keyword_coverage (query_word_coverage) is the share of the query's rarity-weighted words the
-- paper holds. A paper holding every rare word of a short query rises above papers that are only
-- close in meaning; a long question whose paper holds some of its words gains a little. It replaced
-- reciprocal rank fusion (rrf_k 10), which lost to keyword mode on keyword queries; on the tune split
-- it is at least as good as the better of the two modes on every set (docs/benchmarks.md, section
-- "search-hybrid", keyword_weight 0.5 chosen there). semantic_rank and keyword_rank say where each
-- paper came from (null: not in that list).
create or replace function search_papers_hybrid(
    q text, q_embedding halfvec(256), k integer default 10,
    category text default null, published_from date default null, published_to date default null,
    candidates integer default 60, keyword_weight double precision default 0.5
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, score double precision, semantic_rank bigint, keyword_rank bigint,
    similarity double precision, keyword_coverage double precision
)
language sql stable
set search_path = public, pg_temp
begin atomic
    with words as (
        select coalesce(array_agg(w.term), '{}') as terms, coalesce(array_agg(w.idf), '{}') as idfs
          from query_word_idfs(q) w
    ), semantic as (
        select s.paper_id, row_number() over (order by s.similarity desc) as r
          from search_papers_by_vector(q_embedding, greatest(candidates, k), category,
                                       published_from, published_to) s
    ), keyword as (
        select t.paper_id, row_number() over (order by t.rank desc, t.paper_id) as r
          from search_papers_by_text(q, greatest(candidates, k), category, published_from, published_to) t
    ), pooled as (
        select coalesce(s.paper_id, w.paper_id) as paper_id, s.r as semantic_rank, w.r as keyword_rank
          from semantic s full join keyword w on w.paper_id = s.paper_id
    ), scored as (
        select o.paper_id, o.semantic_rank, o.keyword_rank,
               coalesce(1 - (p.embedding <=> q_embedding), 0)::double precision as similarity,
               query_word_coverage(p.search_tsv, words.terms, words.idfs) as coverage
          from pooled o join papers p on p.id = o.paper_id cross join words
    )
    select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
           s.similarity + keyword_weight * s.coverage as score, s.semantic_rank, s.keyword_rank,
           s.similarity, s.coverage
      from scored s join papers p on p.id = s.paper_id
     order by score desc, p.id
     limit least(greatest(k, 1), 1000);
end;

comment on function search_papers_hybrid(text, halfvec, integer, text, date, date, integer, double precision) is
    'Hybrid search: the vector and full-text candidates scored by cosine similarity + keyword_weight x the '
    'share of the query''s rarity-weighted words each paper holds.';

-- search_papers_by_author: papers of an author, newest first; an exact full-name match ranks
-- above a match on last name and initial. For the web map's author search and SQL users.
create or replace function search_papers_by_author(
    q text, k integer default 10,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, authors text[], main_category text,
    published timestamptz, score double precision
)
language plpgsql stable
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
    keys text[] := author_query_keys(q);
begin
    if k is null or k < 1 or k > 1000 then
        raise exception 'k must be between 1 and 1000, got %', k using errcode = 'invalid_parameter_value';
    end if;
    if cardinality(keys) = 0 then
        raise exception 'the author name is empty' using errcode = 'invalid_parameter_value';
    end if;
    return query
    select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
           case when author_search_keys(p.authors) @> keys[1:1] then 1.0 else 0.5 end::double precision
      from papers p
     where author_search_keys(p.authors) && keys
       and paper_matches_filters(p.main_category, p.archive, p.published, category, published_from, published_to)
     order by 7 desc, p.published desc nulls last, p.id
     limit k;
end
$$;

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
                      where to_tsvector('english'::regconfig, fold_text(p.title)) @@ words
                        and paper_matches_filters(p.main_category, p.archive, p.published,
                                                  category, published_from, published_to)
                      limit candidate_limit);
        passing := (select count(*) from (select from papers p where p.id = any(ids) and q <% p.title limit k) s);
    end if;
    if passing < k and cardinality(tsvector_to_array(to_tsvector('english'::regconfig, fold_text(q)))) = 2 then
        added := array(select c.id
                         from (select p.id, p.title from papers p
                                where to_tsvector('english'::regconfig, fold_text(p.title)) @@ title_any_word_query(q)
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
            + case when to_tsvector('simple'::regconfig, fold_text(p.title)) @@ plainto_tsquery('simple'::regconfig, fold_text(q))
                   then 0.5 else 0 end
            + case when strpos(fold_text(p.title), fold_text(btrim(q))) > 0 then 1 else 0 end)::double precision
           as score
      from papers p
     where p.id = any(ids) and q <% p.title
     order by score desc, length(p.title), p.id
     limit k;
end
$$;

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
                  from unnest(to_tsvector('english'::regconfig, fold_text(q))) t, unnest(t.positions) pos
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
      from unnest(to_tsvector('english'::regconfig, fold_text(q))) t
);
