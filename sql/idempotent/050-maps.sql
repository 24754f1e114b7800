-- 050-maps.sql: Maps in SQL: tiles, viewports, placement of new papers, and the triggers that keep derived rows true.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.

-- Maps in SQL: the binary tiles and the level-of-detail viewport query, for the API and psql users,
-- and the trigger that forgets derived rows (map positions, neighbour lists) when an embedding changes.
--
-- The quadtree of a map (docs/maps.md): the square [origin_x, origin_x + extent) x [origin_y,
-- origin_y + extent) of the maps row. At level z it has 2^z x 2^z tiles; tile (tx, ty) covers
-- u in [tx / 2^z, (tx + 1) / 2^z) with u = (x - origin_x) / extent (and the same for y, ty).
-- A point of level z is shown from zoom z on and is stored in exactly one tile: its tile at level z.
-- At zoom z the points of levels 0..z in any tile of level z number at most maps.tile_points.

-- map_tile_index: the tile index along one axis of a coordinate at a level (clamped to the grid).
create or replace function map_tile_index(coordinate double precision, origin double precision,
                                          extent double precision, level integer)
returns integer
language sql immutable parallel safe
return least(greatest(floor((coordinate - origin) / extent * (1 << level))::integer, 0), (1 << level) - 1);

-- map_tile: one precomputed tile as bytes (13 bytes a point in tile format 2, 12 in format 1: the map's
-- tile_format; layouts in docs/maps.md); an empty
-- bytea for a tile with no points; an error for an unknown map or a tile outside the grid.
create or replace function map_tile(map_name text, z integer, x integer, y integer)
returns bytea
language plpgsql stable
set search_path = public, pg_temp
as $$
declare
    m maps;
    blob bytea;
begin
    select * into m from maps where name = map_name;
    if not found then
        raise exception 'no map named %', map_name using errcode = 'no_data_found';
    end if;
    if z is null or z < 0 or z > 30 or x is null or y is null or x < 0 or y < 0
       or x >= (1 << z) or y >= (1 << z) then
        raise exception 'tile %/%/% is outside the quadtree (0 <= z <= 30, 0 <= x, y < 2^z)', z, x, y
            using errcode = 'invalid_parameter_value';
    end if;
    select t.data into blob from map_tiles t
     where t.map_id = m.id and t.z = map_tile.z and t.x = map_tile.x and t.y = map_tile.y;
    return coalesce(blob, ''::bytea);
end
$$;

-- forget_stale_derivations: when a paper's embedding changes (or is cleared), its place on every
-- map and every neighbour list it is in no longer hold. Forget them, and mark the maps, so that
-- `atlas build` (or `atlas maps place` / `atlas neighbors`) recomputes exactly those.
create or replace function forget_stale_derivations() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    if tg_op = 'DELETE' then
        update maps set points_changed_at = now();
        return null;
    end if;
    create temp table if not exists stale_papers (id bigint primary key) on commit drop;
    truncate stale_papers;
    insert into stale_papers
    select n.id from new_rows n join old_rows o on o.id = n.id
     where n.embedding is distinct from o.embedding;
    if not found then
        return null;
    end if;
    delete from paper_neighbors pn using stale_papers s where pn.paper_id = s.id;
    delete from paper_neighbors pn using stale_papers s where pn.neighbor_id = s.id;
    with gone as (
        delete from map_points mp using stale_papers s where mp.paper_id = s.id returning mp.map_id
    )
    update maps set points_changed_at = now() where id in (select map_id from gone);
    return null;
end
$$;

create or replace trigger papers_forget_stale_derivations
    after update on papers referencing old table as old_rows new table as new_rows
    for each statement execute function forget_stale_derivations();

create or replace trigger papers_forget_deleted_derivations
    after delete on papers
    for each statement execute function forget_stale_derivations();

-- nearest_on_map: the k papers of a map nearest to a query vector, with their map coordinates.
-- HNSW with iterative scans, so a map of one archive still yields k of its own papers.
create or replace function nearest_on_map(map_name text, q halfvec(256), k integer default 10)
returns table (paper_id bigint, x real, y real, similarity double precision)
language plpgsql stable
set search_path = public, pg_temp
set hnsw.iterative_scan = 'relaxed_order'
as $$
#variable_conflict use_column
declare
    map_key integer;
begin
    select id into map_key from maps where name = map_name;
    if not found then
        raise exception 'no map named %', map_name using errcode = 'no_data_found';
    end if;
    if k is null or k < 1 or k > 1000 then
        raise exception 'k must be between 1 and 1000, got %', k using errcode = 'invalid_parameter_value';
    end if;
    -- The on-map test is a scalar subquery so that the planner keeps the HNSW order (a join would
    -- turn this into an exact scan of the whole map); iterative scans go on until k papers pass.
    return query
    select h.id, mp.x, mp.y, 1 - h.distance
      from (select p.id, p.embedding <=> q as distance
              from papers p
             where p.embedding is not null
               and coalesce((select true from map_points o where o.map_id = map_key and o.paper_id = p.id), false)
             order by p.embedding <=> q
             limit k) h
      join map_points mp on mp.map_id = map_key and mp.paper_id = h.id
     order by h.distance;
    if not found then
        -- A map too small for the index scan to reach (or an empty one): exact scan of its papers.
        return query
        select mp.paper_id, mp.x, mp.y, 1 - (p.embedding <=> q)
          from map_points mp join papers p on p.id = mp.paper_id
         where mp.map_id = map_key and p.embedding is not null
         order by (p.embedding <=> q) + 0
         limit k;
    end if;
end
$$;

-- place_on_map: where a vector (a new paper, a free text) sits on a map, from its k nearest papers:
-- the weighted geometric median of their positions (Weiszfeld's iteration from the weighted mean),
-- weights exp(-(d - d_min) / mean(d - d_min)) with d = 1 - similarity. The median stays with the
-- heavier cluster when the neighbours sit in two. The rule of etl/maps/projection.py
-- place_from_neighbors, which places papers in bulk. No row when the map has no points.
create or replace function place_on_map(map_name text, q halfvec(256), k integer default 10)
returns table (x double precision, y double precision)
language plpgsql stable
set search_path = public, pg_temp
as $$
declare
    xs double precision[];
    ys double precision[];
    ws double precision[];
    px double precision;
    py double precision;
    sum_w double precision;
    sum_x double precision;
    sum_y double precision;
    inverse double precision;
begin
    with near as (
        select n.x, n.y, (1 - n.similarity) - min(1 - n.similarity) over () as gap
          from nearest_on_map(map_name, q, k) n
    ), weighted as (
        select near.x, near.y, exp(-near.gap / (avg(near.gap) over () + 1e-6)) as w from near
    )
    select array_agg(weighted.x), array_agg(weighted.y), array_agg(weighted.w / total.w)
      into xs, ys, ws
      from weighted cross join (select sum(w) as w from weighted) total;
    if xs is null then
        return;
    end if;
    select sum(a.w * a.x), sum(a.w * a.y) into px, py from unnest(xs, ys, ws) as a(x, y, w);
    for step in 1..30 loop
        sum_w := 0; sum_x := 0; sum_y := 0;
        for i in 1..cardinality(xs) loop
            inverse := ws[i] / greatest(sqrt((xs[i] - px) ^ 2 + (ys[i] - py) ^ 2), 1e-9);
            sum_w := sum_w + inverse;
            sum_x := sum_x + inverse * xs[i];
            sum_y := sum_y + inverse * ys[i];
        end loop;
        px := sum_x / sum_w;
        py := sum_y / sum_w;
    end loop;
    x := px;
    y := py;
    return next;
end
$$;

-- The viewport query without the papers table: map_points carries each point's category code and
-- publication time (migration 0007), so a box at a zoom with filters is answered from map_points
-- alone; papers is read only for the columns psql users see (papers_in_view). At 100k papers a
-- zoom-3 box of 7,000 points took 128 ms when every point joined papers (docs/benchmarks.md).

-- map_category_codes: the category codes (1-based indexes into maps.categories) of one map that a
-- filter keeps: a main category ('cs.CL') or an archive ('cs'); null when the filter is null.
create or replace function map_category_codes(categories text[], category text)
returns smallint[]
language sql immutable parallel safe
return case when category is null then null else
    coalesce((select array_agg(c.code::smallint) from unnest(categories) with ordinality as c(name, code)
               where c.name = category or split_part(c.name, '.', 1) = category), '{}') end;

-- map_points_in_view: the points of a map inside a box that zoom `zoom` shows (levels 0..zoom),
-- coarse levels first, at most max_points, with the filters of search.sql (category or archive,
-- published date range). Reads only map_points (the tiles the box touches), never papers: for the
-- API's viewport answers. category_code is the point's 1-based index into maps.categories (0 = none);
-- trust its local trustworthiness (etl/maps/trust.py; null for points placed after the build). The
-- result columns changed in migration 0016 (trust), which dropped the old function.
create or replace function map_points_in_view(
    map_name text, min_x double precision, min_y double precision, max_x double precision, max_y double precision,
    zoom integer, max_points integer default 10000,
    category text default null, published_from date default null, published_to date default null
) returns table (paper_id bigint, x real, y real, level smallint, category_code smallint, published timestamptz,
                 trust real)
language plpgsql stable
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
    m maps;
    codes smallint[];
begin
    select * into m from maps where name = map_name;
    if not found then
        raise exception 'no map named %', map_name using errcode = 'no_data_found';
    end if;
    if min_x is null or min_y is null or max_x is null or max_y is null or min_x > max_x or min_y > max_y
       or 'NaN' in (min_x, min_y, max_x, max_y) then
        raise exception 'the box must have min_x <= max_x and min_y <= max_y, got (%, %, %, %)', min_x, min_y, max_x, max_y
            using errcode = 'invalid_parameter_value';
    end if;
    if zoom is null or zoom < 0 or zoom > 30 then
        raise exception 'zoom must be between 0 and 30, got %', zoom using errcode = 'invalid_parameter_value';
    end if;
    if max_points is null or max_points < 1 or max_points > 200000 then
        raise exception 'max_points must be between 1 and 200000, got %', max_points
            using errcode = 'invalid_parameter_value';
    end if;
    if m.extent is null then
        return;  -- a map row whose points are not built yet
    end if;
    codes := map_category_codes(m.categories, map_points_in_view.category);
    return query
    select mp.paper_id, mp.x, mp.y, mp.level, mp.category, mp.published, mp.trust
      from generate_series(0, least(zoom, coalesce(m.max_level, 0))) as lv(level)
      join map_points mp
        on mp.map_id = m.id and mp.level = lv.level
       and mp.tile_x between map_tile_index(min_x, m.origin_x, m.extent, lv.level)
                         and map_tile_index(max_x, m.origin_x, m.extent, lv.level)
       and mp.tile_y between map_tile_index(min_y, m.origin_y, m.extent, lv.level)
                         and map_tile_index(max_y, m.origin_y, m.extent, lv.level)
     where mp.x between min_x and max_x and mp.y between min_y and max_y
       and (codes is null or mp.category = any(codes))
       and (published_from is null or mp.published >= published_from)
       and (published_to is null or mp.published < published_to + 1)
     order by mp.level, mp.paper_id
     limit max_points;
end
$$;

-- papers_in_view: map_points_in_view with each point's arXiv id, title, main category and
-- publication time from papers (read for the points returned only), and its local trust, for psql users.
-- After map_points_in_view: its body (begin atomic) is checked against it when created.
create or replace function papers_in_view(
    map_name text, min_x double precision, min_y double precision, max_x double precision, max_y double precision,
    zoom integer, max_points integer default 10000,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, main_category text, published timestamptz,
    x real, y real, level smallint, trust real
)
language sql stable
set search_path = public, pg_temp
begin atomic
    select p.id, p.arxiv_id, p.title, p.main_category, p.published, v.x, v.y, v.level, v.trust
      from map_points_in_view(map_name, min_x, min_y, max_x, max_y, zoom, max_points, category,
                              published_from, published_to) with ordinality as v
      join papers p on p.id = v.paper_id
     order by v.ordinality;
end;

-- sync_map_point_facts: when a paper's main category or publication time changes, the copies on
-- map_points follow (its code in each map's categories; 0 when the map does not list it yet), and
-- the maps are marked so that `atlas build` rewrites their tiles, which carry the same facts.
create or replace function sync_map_point_facts() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    with changed as (
        select n.id, n.main_category, n.published
          from new_rows n join old_rows o on o.id = n.id
         where (n.main_category, n.published) is distinct from (o.main_category, o.published)
    ), synced as (
        update map_points mp
           set category = coalesce(array_position(m.categories, c.main_category), 0), published = c.published
          from changed c, maps m
         where mp.paper_id = c.id and m.id = mp.map_id
        returning mp.map_id
    )
    update maps set points_changed_at = now() where id in (select map_id from synced);
    return null;
end
$$;

create or replace trigger papers_sync_map_point_facts
    after update on papers referencing old table as old_rows new table as new_rows
    for each statement execute function sync_map_point_facts();
