-- The full-text vector of a paper, computed once per load in parallel (migration 0009).
-- papers.search_tsv was a generated column (migration 0001): PostgreSQL computed it in the one
-- backend that runs `atlas load`'s INSERT ... SELECT, about 315 us a paper, which made it most of
-- the merge (~6 min of one core at 1.2M papers, docs/benchmarks.md). It is now a plain column:
-- the loader computes it with paper_search_tsv() in a parallel query over its staging table and
-- writes it with the row; the trigger below fills it for every other writer (an INSERT without it,
-- an UPDATE of the text that leaves it as it was). A value the writer supplies is kept: only the
-- ETL role may write papers, and the loader supplies paper_search_tsv()'s own result.
-- Re-applying is harmless.

-- paper_search_tsv: English, title (weight A), authors (B), abstract (C), as in migration 0001.
create or replace function paper_search_tsv(title text, authors text[], abstract text) returns tsvector
language sql immutable parallel safe
set search_path = public, pg_temp
return setweight(to_tsvector('english', coalesce(title, '')), 'A')
    || setweight(to_tsvector('english', join_words(authors)), 'B')
    || setweight(to_tsvector('english', coalesce(abstract, '')), 'C');

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

drop trigger if exists papers_fill_search_tsv on papers;
create trigger papers_fill_search_tsv
    before insert or update of title, authors, abstract, search_tsv on papers
    for each row execute function fill_paper_search_tsv();
