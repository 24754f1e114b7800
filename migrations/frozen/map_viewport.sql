-- The viewport query without the papers table: map_points carries each point's category code and
-- publication time (migration 0007), so a box at a zoom with filters is answered from map_points
-- alone; papers is read only for the columns psql users see (papers_in_view). At 100k papers a
-- zoom-3 box of 7,000 points took 128 ms when every point joined papers (docs/benchmarks.md).
-- Applied by migration 0007 after maps.sql, whose papers_in_view it replaces; every statement is
-- `create or replace`, so re-applying is harmless.

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
-- API's viewport answers. category_code is the point's 1-based index into maps.categories (0 = none).
create or replace function map_points_in_view(
    map_name text, min_x double precision, min_y double precision, max_x double precision, max_y double precision,
    zoom integer, max_points integer default 10000,
    category text default null, published_from date default null, published_to date default null
) returns table (paper_id bigint, x real, y real, level smallint, category_code smallint, published timestamptz)
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
    select mp.paper_id, mp.x, mp.y, mp.level, mp.category, mp.published
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
-- publication time from papers (read for the points returned only), for psql users.
create or replace function papers_in_view(
    map_name text, min_x double precision, min_y double precision, max_x double precision, max_y double precision,
    zoom integer, max_points integer default 10000,
    category text default null, published_from date default null, published_to date default null
) returns table (
    paper_id bigint, arxiv_id text, title text, main_category text, published timestamptz,
    x real, y real, level smallint
)
language sql stable
set search_path = public, pg_temp
begin atomic
    select p.id, p.arxiv_id, p.title, p.main_category, p.published, v.x, v.y, v.level
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
