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
