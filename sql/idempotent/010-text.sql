-- 010-text.sql: Text functions: folding, author keys, the full-text vector of a paper and its trigger.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.

-- join_words: the authors as one text, for the full-text vector (first created by migration 0001).
create or replace function join_words(words text[]) returns text
language sql immutable parallel safe
return array_to_string(words, ' ');

-- Search by title and by author: what people type when they know the paper or the person.
-- Filters as in search.sql: category (main category or archive), published_from, published_to.

-- fold_text: lower case without accents ('Schrödinger' -> 'schrodinger'). unaccent() is only
-- STABLE because its dictionary could change; naming the dictionary makes this wrapper immutable
-- in practice, which the expression index on author names needs.
create or replace function fold_text(t text) returns text
language sql immutable parallel safe strict
set search_path = public, pg_temp
return lower(public.unaccent('public.unaccent'::regdictionary, t));

-- author_search_keys in PL/pgSQL: the same keys as the SQL version of search_fields.sql (migration
-- 0006), which this replaces (migration 0007), about 6x faster to compute. The SQL version runs
-- its lateral unnest query through the SQL-function executor for every paper: ~400 us a paper,
-- so building the GIN index papers_author_keys at 1.2M papers took longer than the HNSW index;
-- ANALYZE evaluates it again for its sample rows. tests/test_search_sql.py checks that both
-- versions give the same keys for every paper of the 10k sample. Re-applying is harmless.

-- author_search_keys: the ways people write each author of a paper, for the GIN index:
-- 'einstein' (last name), 'einstein a' (last name + first initial), 'albert einstein' (full name).
-- Dots, hyphens between initials and extra spaces do not matter. Sorted, without duplicates.
create or replace function author_search_keys(authors text[]) returns text[]
language plpgsql immutable parallel safe
set search_path = public, pg_temp
as $$
declare
    name text;
    words text[];
    last_name text;
    keys text[] := '{}';
begin
    foreach name in array coalesce(authors, '{}') loop
        -- fold_text(name), written out: a call of that SQL function (it pins search_path) costs more
        words := regexp_split_to_array(
                     btrim(regexp_replace(lower(unaccent('public.unaccent'::regdictionary, name)),
                                          '[^[:alnum:]'' -]+|\s-|-\s', ' ', 'g')), '\s+');
        if cardinality(words) >= 1 and words[1] <> '' then
            last_name := words[cardinality(words)];
            keys := keys || last_name;
            if cardinality(words) > 1 then
                keys := keys || (last_name || ' ' || left(words[1], 1)) || array_to_string(words, ' ');
            end if;
        end if;
    end loop;
    return (select coalesce(array_agg(distinct k), '{}') from unnest(keys) as k);
end
$$;

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

-- The full-text vector of a paper, computed once per load in parallel (migration 0009).
-- papers.search_tsv was a generated column (migration 0001): PostgreSQL computed it in the one
-- backend that runs `atlas load`'s INSERT ... SELECT, about 315 us a paper, which made it most of
-- the merge (~6 min of one core at 1.2M papers, docs/benchmarks.md). It is now a plain column:
-- the loader computes it with paper_search_tsv() in a parallel query over its staging table and
-- writes it with the row; the trigger below fills it for every other writer (an INSERT without it,
-- an UPDATE of the text that leaves it as it was). A value the writer supplies is kept: only the
-- ETL role may write papers, and the loader supplies paper_search_tsv()'s own result.

-- paper_search_tsv: English, title (weight A), authors (B), abstract (C), as in migration 0001.
create or replace function paper_search_tsv(title text, authors text[], abstract text) returns tsvector
language sql immutable parallel safe
set search_path = public, pg_temp
return setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A'::"char")
    || setweight(to_tsvector('english'::regconfig, join_words(authors)), 'B'::"char")
    || setweight(to_tsvector('english'::regconfig, coalesce(abstract, '')), 'C'::"char");

-- fill_paper_search_tsv: computes search_tsv for writers that do not supply it.
create or replace function fill_paper_search_tsv() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    if tg_op = 'INSERT' then
        if new.search_tsv is null then
            new.search_tsv := paper_search_tsv(new.title, new.authors, new.abstract);
        end if;
    elsif (new.title, new.authors, new.abstract) is distinct from (old.title, old.authors, old.abstract)
          and new.search_tsv is not distinct from old.search_tsv then
        new.search_tsv := paper_search_tsv(new.title, new.authors, new.abstract);
    end if;
    return new;
end;
$$;

create or replace trigger papers_fill_search_tsv
    before insert or update of title, authors, abstract, search_tsv on papers
    for each row execute function fill_paper_search_tsv();
