-- 095-footprint.sql: A query's footprint on a map: how similar the papers of each cell are to it.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.
--
-- Exact over every paper of the map (not the top k of a search): one scan of map_points joined to
-- the papers' halfvec embeddings, which PostgreSQL may run as a parallel scan. Cells are the tiles
-- of the map's quadtree at level z (docs/maps.md): cell (cell_x, cell_y) covers
-- u in [cell_x / 2^z, (cell_x + 1) / 2^z) with u = (x - origin_x) / extent, the same for y.

-- map_footprint: per non-empty cell of level z, the number of papers, the best and the mean cosine
-- similarity of its papers to q (and to q2 when given, for a difference layer), and the paper with
-- the best similarity. For GET /api/maps/{map}/footprint.
create or replace function map_footprint(map_name text, q halfvec(256), z integer,
                                         q2 halfvec(256) default null)
returns table (cell_x integer, cell_y integer, papers bigint, best double precision, mean double precision,
               best_paper bigint, best_b double precision, mean_b double precision)
language plpgsql stable
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
    m maps;
begin
    select * into m from maps where name = map_name;
    if not found then
        raise exception 'no map named %', map_name using errcode = 'no_data_found';
    end if;
    if m.extent is null then
        raise exception 'map % is not built yet', map_name using errcode = 'no_data_found';
    end if;
    if z is null or z < 0 or z > 9 then
        raise exception 'z must be between 0 and 9, got %', z using errcode = 'invalid_parameter_value';
    end if;
    if q is null then
        raise exception 'the query vector is null' using errcode = 'invalid_parameter_value';
    end if;
    -- One hash aggregate, which the planner may split over parallel workers. The best paper of a cell
    -- rides along in one bigint: the similarity to 2^-20 in the high bits, the paper id (< 2^32, as in
    -- the tiles) in the low 32, so max() of it is the best paper (ties: the larger id); no arrays.
    return query
    select s.cx, s.cy, count(*), max(s.sim), avg(s.sim),
           max((round((s.sim + 1) * 1048576)::bigint << 32) | s.paper_id) & 4294967295,
           max(s.sim_b), avg(s.sim_b)
      from (select least(greatest(floor((mp.x - m.origin_x) / m.extent * (1 << z))::integer, 0),
                         (1 << z) - 1) as cx,
                   least(greatest(floor((mp.y - m.origin_y) / m.extent * (1 << z))::integer, 0),
                         (1 << z) - 1) as cy,
                   mp.paper_id, 1 - (p.embedding <=> q) as sim,
                   case when q2 is not null then 1 - (p.embedding <=> q2) end as sim_b
              from map_points mp join papers p on p.id = mp.paper_id
             where mp.map_id = m.id and p.embedding is not null
            offset 0) s  -- a fence: similarities are computed in the scan, so the 512-byte vectors go no further
     group by s.cx, s.cy
     order by s.cy, s.cx;
end
$$;

comment on function map_footprint(text, halfvec, integer, halfvec) is
    'A query vector''s footprint on a map: per non-empty cell of the quadtree level z, its papers, the best and '
    'mean cosine similarity to q (and to q2, to compare two queries) and the best paper. Exact, every paper.';

-- map_footprint_topics: the topics of a map (at one level) that a query covers most: per topic, its
-- papers, how many are at least `threshold` similar to q, that share, and the best similarity.
-- Topics with no paper above the threshold are left out; the biggest shares first.
create or replace function map_footprint_topics(map_name text, q halfvec(256), threshold double precision,
                                                topic_level integer default 0)
returns table (level integer, topic integer, label text, papers bigint, above bigint, share double precision,
               best double precision)
language sql stable
set search_path = public, pg_temp
begin atomic
    with scored as (
        select mp.topics[topic_level + 1] as topic, 1 - (p.embedding <=> q) as sim
          from maps m
          join map_points mp on mp.map_id = m.id
          join papers p on p.id = mp.paper_id
         where m.name = map_name and p.embedding is not null
    ), per_topic as (
        select s.topic, count(*) as papers, count(*) filter (where s.sim >= threshold) as above, max(s.sim) as best
          from scored s where s.topic is not null group by s.topic
    )
    select topic_level, t.topic, t.label, pt.papers, pt.above, pt.above::float8 / pt.papers, pt.best
      from per_topic pt
      join maps m on m.name = map_name
      join map_topics t on t.map_id = m.id and t.level = topic_level and t.topic = pt.topic
     where pt.above > 0
     order by pt.above::float8 / pt.papers desc, pt.above desc, t.topic;
end;

comment on function map_footprint_topics(text, halfvec, double precision, integer) is
    'The topics of a map (one level) a query vector covers: papers, papers at least `threshold` similar, their '
    'share of the topic and the best similarity; largest shares first, topics with none above left out.';
