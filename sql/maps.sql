-- Maps in SQL: the binary tiles and the level-of-detail viewport query, for the API and psql users,
-- and the trigger that forgets derived rows (map positions, neighbour lists) when an embedding changes.
-- Applied by migration 0004; every statement is `create or replace`, so re-applying is harmless.
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

-- map_tile: one precomputed tile as bytes (12 bytes a point, layout in docs/maps.md); an empty
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

-- papers_in_view: the points of a map inside a box (map coordinates) that zoom level `zoom`
-- shows (levels 0..zoom), coarse levels first, at most max_points; optional filters as in
-- search.sql (category or archive, published date range). Reads only the tiles the box touches.
create or replace function papers_in_view(
    map_name text, xmin double precision, ymin double precision, xmax double precision, ymax double precision,
    zoom integer, max_points integer default 10000,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, main_category text, published timestamptz,
    x real, y real, level smallint
)
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
    if xmin is null or ymin is null or xmax is null or ymax is null or xmin > xmax or ymin > ymax
       or 'NaN' in (xmin, ymin, xmax, ymax) then
        raise exception 'the box must have xmin <= xmax and ymin <= ymax, got (%, %, %, %)', xmin, ymin, xmax, ymax
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
    return query
    select p.id, p.arxiv_id, p.title, p.main_category, p.published, mp.x, mp.y, mp.level
      from generate_series(0, least(zoom, coalesce(m.max_level, 0))) as lv(level)
      join map_points mp
        on mp.map_id = m.id and mp.level = lv.level
       and mp.tile_x between map_tile_index(xmin, m.origin_x, m.extent, lv.level)
                         and map_tile_index(xmax, m.origin_x, m.extent, lv.level)
       and mp.tile_y between map_tile_index(ymin, m.origin_y, m.extent, lv.level)
                         and map_tile_index(ymax, m.origin_y, m.extent, lv.level)
      join papers p on p.id = mp.paper_id
     where mp.x between xmin and xmax and mp.y between ymin and ymax
       and paper_matches_filters(p.main_category, p.archive, p.published, category, published_from, published_to)
     order by mp.level, mp.paper_id
     limit max_points;
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
