-- Search by title and by author: what people type when they know the paper or the person.
-- Applied by migration 0006 (which also creates pg_trgm, unaccent and the two GIN indexes);
-- every statement is `create or replace`, so re-applying is harmless.
-- Filters as in search.sql: category (main category or archive), published_from, published_to.

-- fold_text: lower case without accents ('Schrödinger' -> 'schrodinger'). unaccent() is only
-- STABLE because its dictionary could change; naming the dictionary makes this wrapper immutable
-- in practice, which the expression index on author names needs.
create or replace function fold_text(t text) returns text
language sql immutable parallel safe strict
set search_path = public, pg_temp
return lower(public.unaccent('public.unaccent'::regdictionary, t));

-- author_search_keys: the ways people write each author of a paper, for the GIN index:
-- 'einstein' (last name), 'einstein a' (last name + first initial), 'albert einstein' (full name).
-- Dots, hyphens between initials and extra spaces do not matter.
create or replace function author_search_keys(authors text[]) returns text[]
language sql immutable parallel safe
set search_path = public, pg_temp
return (
    select coalesce(array_agg(distinct key), '{}')
      from unnest(authors) as a(name)
     cross join lateral (
           select regexp_split_to_array(
                      btrim(regexp_replace(fold_text(a.name), '[^[:alnum:]'' -]+|\s-|-\s', ' ', 'g')), '\s+'
                  ) as words
     ) w
     cross join lateral unnest(array[
           w.words[cardinality(w.words)],
           w.words[cardinality(w.words)] || ' ' || left(w.words[1], 1),
           array_to_string(w.words, ' ')
     ]) as key
     where cardinality(w.words) >= 1 and w.words[1] <> ''
       and (cardinality(w.words) > 1 or key = w.words[1])
);

-- author_query_keys: the keys a typed name may match: 'A. Einstein' and 'Einstein, A.' ->
-- {'einstein a'}; 'Albert Einstein' -> {'albert einstein', 'einstein a'}; 'Einstein' -> {'einstein'}.
create or replace function author_query_keys(q text) returns text[]
language sql immutable parallel safe
set search_path = public, pg_temp
return (
    with cleaned as (
        select case when position(',' in q) > 0  -- 'Lastname, First' -> 'First Lastname'
                    then btrim(split_part(q, ',', 2)) || ' ' || btrim(split_part(q, ',', 1))
                    else q end as name
    ), words as (
        select regexp_split_to_array(
                   btrim(regexp_replace(fold_text(name), '[^[:alnum:]'' -]+|\s-|-\s', ' ', 'g')), '\s+') as w
          from cleaned
    )
    select case
        when w[1] = '' then '{}'::text[]
        when cardinality(w) = 1 then array[w[1]]
        when length(w[1]) = 1 then array[w[cardinality(w)] || ' ' || w[1]]
        else array[array_to_string(w, ' '), w[cardinality(w)] || ' ' || left(w[1], 1)]
    end
      from words
);

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
-- then titles holding every word of it, then by similarity.
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
begin
    if k is null or k < 1 or k > 1000 then
        raise exception 'k must be between 1 and 1000, got %', k using errcode = 'invalid_parameter_value';
    end if;
    if q is null or btrim(q) = '' then
        raise exception 'the title query is empty' using errcode = 'invalid_parameter_value';
    end if;
    return query
    select p.id, p.arxiv_id, p.title, p.authors, p.main_category, p.published,
           (word_similarity(q, p.title)
            + case when to_tsvector('simple', fold_text(p.title)) @@ plainto_tsquery('simple', fold_text(q))
                   then 0.5 else 0 end
            + case when strpos(fold_text(p.title), fold_text(btrim(q))) > 0 then 1 else 0 end)::double precision
           as score
      from papers p
     where q <% p.title
       and paper_matches_filters(p.main_category, p.archive, p.published, category, published_from, published_to)
     order by score desc, length(p.title), p.id
     limit k;
end
$$;
