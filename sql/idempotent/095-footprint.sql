-- 095-footprint.sql: A query's footprint on a map: how similar the papers of each cell are to it.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.
--
-- Exact over every paper of the map (not the top k of a search): one scan of map_points, whose rows
-- carry their paper's halfvec embedding (migration 0018), gives both the grid and the topics
-- (map_footprint_summary), run as a parallel scan. It does not read papers: joined to it, the scan
-- read every paper's title, abstract and full-text vector beside its embedding, and hashed every row
-- to join them. One scan, not two (one for the grid, one for the topics). Cells are the tiles
-- of the map's quadtree at level z (docs/maps.md): cell (cell_x, cell_y) covers
-- u in [cell_x / 2^z, (cell_x + 1) / 2^z) with u = (x - origin_x) / extent, the same for y.

-- map_footprint_summary: the one scan. Per non-empty cell of level z (kind 'cell'): the number of
-- papers, the best and the mean cosine similarity of its papers to q (and to q2 when given, for a
-- difference layer), and the paper with the best similarity. Per topic of level topic_level that has
-- papers at least `threshold` similar to q (kind 'topic'): its papers, how many are above, that share
-- and the best similarity. Columns a kind does not have are null. Cells come first, by row then
-- column; then topics, the biggest shares first. GET /api/maps/{map}/footprint reads
-- this; map_footprint and map_footprint_topics below are its two halves.
create or replace function map_footprint_summary(map_name text, q halfvec(256), z integer,
                                                 q2 halfvec(256) default null,
                                                 threshold double precision default 0.4,
                                                 topic_level integer default 0)
returns table (kind text, cell_x integer, cell_y integer, topic integer, label text, papers bigint,
               above bigint, share double precision, best double precision, mean double precision,
               best_paper bigint, best_b double precision, mean_b double precision)
language plpgsql stable
set search_path = public, pg_temp
-- The planner cannot know that the cells and topics are a few thousand groups (it guesses one per
-- two papers), so by its costs shipping every similarity to the leader outweighs the workers, and
-- sorting the rows (vectors and all) beats a hash table of the groups. Both guesses are wrong here:
-- the parallel scan with hashed groups is the plan bench/footprint.py times.
set parallel_setup_cost = 0
set parallel_tuple_cost = 0
set enable_sort = off
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
    if topic_level is null or topic_level < 0 then
        raise exception 'topic_level must be 0 or more, got %', topic_level using errcode = 'invalid_parameter_value';
    end if;
    -- Groups of (cell, topic): a few thousand, aggregated in the scan; the grid and the topics are
    -- sums over them. The best paper of a group rides along in one bigint: the similarity to 2^-20 in
    -- the high bits, the paper id (< 2^32, as in the tiles) in the low 32, so max() of it is the best
    -- paper (ties: the larger id); no arrays.
    return query
    with scored as (
        select least(greatest(floor((mp.x - m.origin_x) / m.extent * (1 << z))::integer, 0), (1 << z) - 1) as cx,
               least(greatest(floor((mp.y - m.origin_y) / m.extent * (1 << z))::integer, 0), (1 << z) - 1) as cy,
               mp.topics[topic_level + 1] as topic, mp.paper_id,
               1 - (mp.embedding <=> q) as sim,
               case when q2 is not null then 1 - (mp.embedding <=> q2) end as sim_b
          from map_points mp
         where mp.map_id = m.id and mp.embedding is not null
    ), grouped as materialized (
        select s.cx, s.cy, s.topic, count(*) as n, max(s.sim) as best, sum(s.sim) as total,
               max((round((s.sim + 1) * 1048576)::bigint << 32) | s.paper_id) as packed,
               count(*) filter (where s.sim >= threshold) as above,
               max(s.sim_b) as best_b, sum(s.sim_b) as total_b
          from scored s
         group by s.cx, s.cy, s.topic
    )
    select 'cell', g.cx, g.cy, null::integer, null::text, sum(g.n)::bigint, null::bigint, null::float8,
           max(g.best), sum(g.total) / sum(g.n), max(g.packed) & 4294967295,
           max(g.best_b), sum(g.total_b) / sum(g.n)
      from grouped g
     group by g.cx, g.cy
    union all
    select 'topic', null, null, g.topic, t.label, sum(g.n)::bigint, sum(g.above)::bigint,
           sum(g.above)::float8 / sum(g.n), max(g.best), sum(g.total) / sum(g.n), null, null, null
      from grouped g
      join map_topics t on t.map_id = m.id and t.level = topic_level and t.topic = g.topic
     group by g.topic, t.label
    having sum(g.above) > 0
     -- cells by row then column; topics with the biggest shares first
     order by 1, 8 desc, 7 desc, 4, 3, 2;
end
$$;

comment on function map_footprint_summary(text, halfvec, integer, halfvec, double precision, integer) is
    'A query vector''s footprint on a map in one exact scan of every paper: rows of kind ''cell'' (per non-empty '
    'cell of quadtree level z: papers, best and mean similarity to q and q2, the best paper) and of kind ''topic'' '
    '(topics of one level with papers at least `threshold` similar: papers, above, share, best).';

-- map_footprint: the grid of map_footprint_summary, by row then column.
create or replace function map_footprint(map_name text, q halfvec(256), z integer,
                                         q2 halfvec(256) default null)
returns table (cell_x integer, cell_y integer, papers bigint, best double precision, mean double precision,
               best_paper bigint, best_b double precision, mean_b double precision)
language sql stable
set search_path = public, pg_temp
begin atomic
    select s.cell_x, s.cell_y, s.papers, s.best, s.mean, s.best_paper, s.best_b, s.mean_b
      from map_footprint_summary(map_name, q, z, q2) s
     where s.kind = 'cell'
     order by s.cell_y, s.cell_x;
end;

comment on function map_footprint(text, halfvec, integer, halfvec) is
    'A query vector''s footprint on a map: per non-empty cell of the quadtree level z, its papers, the best and '
    'mean cosine similarity to q (and to q2, to compare two queries) and the best paper. Exact, every paper.';

-- map_footprint_topics: the topics of map_footprint_summary, the biggest shares first.
create or replace function map_footprint_topics(map_name text, q halfvec(256), threshold double precision,
                                                topic_level integer default 0)
returns table (level integer, topic integer, label text, papers bigint, above bigint, share double precision,
               best double precision)
language sql stable
set search_path = public, pg_temp
begin atomic
    select topic_level, s.topic, s.label, s.papers, s.above, s.share, s.best
      from map_footprint_summary(map_name, q, 0, null, threshold, topic_level) s
     where s.kind = 'topic'
     order by s.share desc, s.above desc, s.topic;
end;

comment on function map_footprint_topics(text, halfvec, double precision, integer) is
    'The topics of a map (one level) a query vector covers: papers, papers at least `threshold` similar, their '
    'share of the topic and the best similarity; largest shares first, topics with none above left out.';
