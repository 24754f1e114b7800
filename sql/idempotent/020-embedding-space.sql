-- 020-embedding-space.sql: The embedding space: a native model vector projected into the database's halfvec(256).
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.

-- Embedding space: turning a native model vector into the database's halfvec(256).

-- project_embedding(native real[]) -> halfvec(256)
-- For people with a vector from the recorded model (for example computed in a notebook) who want
-- to search from psql: applies the database's recorded projection (none, pca, truncate or pad)
-- exactly as the loader did for the papers, then normalises to unit length.
create or replace function project_embedding(native real[])
returns halfvec(256)
language plpgsql stable parallel safe
set search_path = public, pg_temp
as $$
declare
    space embedding_space;
    v vector;
    coords real[];
begin
    select * into space from embedding_space;
    if not found then
        raise exception 'this database has no embedding space yet: load papers with embeddings first';
    end if;
    if cardinality(native) is distinct from space.native_dimensions then
        raise exception 'vector has % dimensions; this database''s space (%) expects %',
            cardinality(native), space.model, space.native_dimensions;
    end if;
    v := native::vector;
    if space.projection = 'none' then
        return l2_normalize(v)::halfvec(256);
    elsif space.projection = 'truncate' then
        return l2_normalize(subvector(v, 1, 256))::halfvec(256);
    elsif space.projection = 'pad' then
        return l2_normalize((native || array_fill(0::real, array[256 - cardinality(native)]))::vector)::halfvec(256);
    end if;
    -- pca: coordinates of the centred vector on each stored component, in order.
    select array_agg((-((v - space.projection_mean) <#> component))::real order by position)
      into coords
      from unnest(space.projection_components) with ordinality as c(component, position);
    return l2_normalize(coords::vector)::halfvec(256);
end;
$$;

comment on function project_embedding(real[]) is
    'Projects a native vector of the recorded embedding model to the halfvec(256) the papers use.';
