-- 092-explain.sql: Honest neighbours: a paper's nearest papers by embedding and on a map, with ranks in both.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.

-- map_paper_neighborhood: for one paper of a map, every other paper of the map that is among its k
-- nearest by embedding (cosine, exact, 256-d) or among its k nearest on the map (2-D Euclidean),
-- with the exact rank of each in both orders (1 = nearest; ties share a rank). One scan of the
-- map's points (exact, so ranks beyond k are true ranks, not "not found"); for GET /api/papers/{id}/explain.
create or replace function map_paper_neighborhood(map_name text, paper_arxiv_id text, k integer default 10)
returns table (paper_id bigint, similarity double precision, distance double precision,
               embedding_rank bigint, map_rank bigint)
language plpgsql stable
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
    map_key integer;
    self_id bigint;
    self_vector halfvec(256);
    self_x real;
    self_y real;
begin
    select id into map_key from maps where name = map_name;
    if not found then
        raise exception 'no map named %', map_name using errcode = 'no_data_found';
    end if;
    if k is null or k < 1 or k > 100 then
        raise exception 'k must be between 1 and 100, got %', k using errcode = 'invalid_parameter_value';
    end if;
    select p.id, p.embedding, mp.x, mp.y into self_id, self_vector, self_x, self_y
      from papers p join map_points mp on mp.map_id = map_key and mp.paper_id = p.id
     where p.arxiv_id = paper_arxiv_id;
    if not found then
        raise exception 'paper % is not on map %', paper_arxiv_id, map_name using errcode = 'no_data_found';
    end if;
    if self_vector is null then
        raise exception 'paper % has no embedding', paper_arxiv_id using errcode = 'no_data_found';
    end if;
    return query
    with others as (
        select mp.paper_id, 1 - (p.embedding <=> self_vector) as similarity,
               sqrt((mp.x - self_x) ^ 2 + (mp.y - self_y) ^ 2) as distance
          from map_points mp join papers p on p.id = mp.paper_id
         where mp.map_id = map_key and mp.paper_id <> self_id and p.embedding is not null
    ), ranked as (
        select o.*, rank() over (order by o.similarity desc) as embedding_rank,
               rank() over (order by o.distance) as map_rank
          from others o
    )
    select r.paper_id, r.similarity, r.distance, r.embedding_rank, r.map_rank
      from ranked r
     where r.embedding_rank <= k or r.map_rank <= k
     order by least(r.embedding_rank, r.map_rank), r.embedding_rank;
end
$$;

comment on function map_paper_neighborhood(text, text, integer) is
    'For a paper of a map: the papers among its k nearest by embedding (cosine) or on the map (2-D), with '
    'cosine similarity, 2-D distance and their exact ranks in both orders (one scan of the map).';
