-- 085-analytics-growth.sql: Growth of the maps' topics and regions: papers per month, growth over a window.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.
--
-- Months are those of the first version (map_points.published, a copy of papers.published), in UTC.
-- The growth window ends at the corpus's latest month, not at today: a sample that stops in 2019 has
-- its "last 12 months" in 2018-2019 (analytics.growth_window says which months, for every query).

-- analytics.growth_window: the months the growth views compare: the recent window (the 12 months
-- ending with the latest month of any paper) and the baseline (the 36 months before it).
create or replace view analytics.growth_window as
with latest as (
    select date_trunc('month', max(p.published) at time zone 'UTC')::date as latest_month
      from public.papers p
)
select l.latest_month,
       (l.latest_month - interval '11 months')::date as recent_from,
       l.latest_month as recent_to,
       (l.latest_month - interval '47 months')::date as baseline_from,
       (l.latest_month - interval '12 months')::date as baseline_to,
       12 as recent_months, 36 as baseline_months
  from latest l;

comment on view analytics.growth_window is
    'The months compared by the growth views: recent = the 12 months ending with the corpus''s latest month '
    '(of any paper''s first version, UTC), baseline = the 36 months before. Bounds are first days of months, '
    'both ends included.';

comment on column analytics.growth_window.latest_month is
    'The latest month with a paper (first version, UTC): the end of the recent window, not today.';

-- analytics.map_topic_monthly_counts: papers per month in each topic of each map, at every level.
create or replace view analytics.map_topic_monthly_counts as
select m.name as map, t.level, t.topic, t.label, c.month, c.papers
  from (select mp.map_id, (lv.ordinality - 1)::smallint as level, lv.topic,
               date_trunc('month', mp.published at time zone 'UTC')::date as month, count(*) as papers
          from public.map_points mp
         cross join lateral unnest(mp.topics) with ordinality as lv(topic, ordinality)
         where mp.published is not null
         group by 1, 2, 3, 4) c
  join public.maps m on m.id = c.map_id
  join public.map_topics t on t.map_id = c.map_id and t.level = c.level and t.topic = c.topic;

comment on view analytics.map_topic_monthly_counts is
    'Papers per month (first version, UTC) in each topic of each map, at every topic level (0 = coarsest). '
    'Months without papers have no row.';

comment on column analytics.map_topic_monthly_counts.month is 'First day of the month (UTC).';

-- analytics.map_cell_monthly_counts: papers per month in each cell of a map's quadtree at level 5
-- (a 32 x 32 grid over the map's square; cell (cell_x, cell_y) as tiles at zoom 5, docs/maps.md).
create or replace view analytics.map_cell_monthly_counts as
select m.name as map, 5 as cell_level,
       -- map_tile_index inlined: the reader may not execute the app's functions in public
       least(greatest(floor((mp.x - m.origin_x) / m.extent * 32)::integer, 0), 31) as cell_x,
       least(greatest(floor((mp.y - m.origin_y) / m.extent * 32)::integer, 0), 31) as cell_y,
       date_trunc('month', mp.published at time zone 'UTC')::date as month, count(*) as papers
  from public.map_points mp
  join public.maps m on m.id = mp.map_id
 where mp.published is not null and m.extent is not null
 group by m.name, 3, 4, 5;

comment on view analytics.map_cell_monthly_counts is
    'Papers per month (first version, UTC) in each cell of a 32 x 32 grid over each map (the quadtree tiles '
    'of zoom 5: cell x covers map x in [origin_x + cell_x * extent / 32, origin_x + (cell_x + 1) * extent / 32)).';

comment on column analytics.map_cell_monthly_counts.cell_x is
    'Column of the cell (0 = smallest x), as the tile x of zoom 5 in analytics.maps'' quadtree.';

-- analytics.map_topic_growth: for each topic of each map (every level), its papers in the recent
-- window and the baseline (analytics.growth_window), the rate ratio (papers a month, recent over
-- baseline) and two z-scores. Given n = recent + baseline papers, a topic growing like a constant
-- Poisson rate puts each in the recent window with p = 12 / 48: growth_z = (recent - n p) / sqrt(n p (1 - p)).
-- The whole map grows too (arXiv does), so relative_z uses the map's own p = its recent share.
create or replace view analytics.map_topic_growth as
with w as (select * from analytics.growth_window),
counts as (
    select mp.map_id, (lv.ordinality - 1)::smallint as level, lv.topic,
           count(*) filter (where mp.published at time zone 'UTC' >= w.recent_from) as recent,
           count(*) filter (where mp.published at time zone 'UTC' < w.recent_from) as baseline
      from public.map_points mp
     cross join w
     cross join lateral unnest(mp.topics) with ordinality as lv(topic, ordinality)
     where mp.published at time zone 'UTC' >= w.baseline_from
       and mp.published at time zone 'UTC' < (w.recent_to + interval '1 month')
     group by 1, 2, 3
),
whole_map as (
    select mp.map_id,
           count(*) filter (where mp.published at time zone 'UTC' >= w.recent_from)::float8
             / nullif(count(*), 0) as recent_share
      from public.map_points mp
     cross join w
     where mp.published at time zone 'UTC' >= w.baseline_from
       and mp.published at time zone 'UTC' < (w.recent_to + interval '1 month')
     group by 1
)
select m.name as map, t.level, t.topic, t.label, t.size,
       coalesce(c.recent, 0) as recent_papers, coalesce(c.baseline, 0) as baseline_papers,
       round(((c.recent / 12.0) / nullif(c.baseline / 36.0, 0))::numeric, 3) as rate_ratio,
       round(((c.recent / 12.0) / nullif(c.baseline / 36.0, 0)
              / nullif(wm.recent_share / 12.0 / nullif((1 - wm.recent_share) / 36.0, 0), 0))::numeric, 3)
         as relative_rate_ratio,
       round(((c.recent - (c.recent + c.baseline) * 0.25)
              / nullif(sqrt((c.recent + c.baseline) * 0.25 * 0.75), 0))::numeric, 2) as growth_z,
       round(((c.recent - (c.recent + c.baseline) * wm.recent_share)
              / nullif(sqrt((c.recent + c.baseline) * wm.recent_share * (1 - wm.recent_share)), 0))::numeric, 2)
         as relative_z
  from public.map_topics t
  join public.maps m on m.id = t.map_id
  left join counts c on c.map_id = t.map_id and c.level = t.level and c.topic = t.topic
  left join whole_map wm on wm.map_id = t.map_id;

comment on view analytics.map_topic_growth is
    'Growth of each topic of each map over analytics.growth_window: papers in the last 12 months of the corpus '
    'and in the 36 before, the rate ratio (papers a month, recent / baseline; > 1 = growing), the same ratio '
    'relative to the whole map''s, and Poisson z-scores (binomial test of the recent share, normal approximation).';

comment on column analytics.map_topic_growth.rate_ratio is
    '(recent_papers / 12) / (baseline_papers / 36); null when the baseline is empty.';

comment on column analytics.map_topic_growth.relative_rate_ratio is
    'rate_ratio divided by the whole map''s rate ratio: > 1 = growing faster than the map.';

comment on column analytics.map_topic_growth.growth_z is
    'z of the recent count against a constant rate: (recent - n/4) / sqrt(3n/16), n = recent + baseline. '
    'Above 2: more growth than chance would give.';

comment on column analytics.map_topic_growth.relative_z is
    'z of the recent count against the map''s own recent share s: (recent - n s) / sqrt(n s (1 - s)). '
    'Above 2: the topic grows faster than its map.';

-- analytics.fastest_growing_topics: per map and level, the 10 topics growing fastest relative to
-- their map (by relative_z, at least 20 papers in the two windows), each with its 5 top papers: the
-- recent papers nearest the topic's centre on the map (the most typical of what is growing).
create or replace view analytics.fastest_growing_topics as
with ranked as (
    select g.*, row_number() over (partition by g.map, g.level order by g.relative_z desc, g.topic) as rank
      from analytics.map_topic_growth g
     where g.recent_papers + g.baseline_papers >= 20 and g.relative_z is not null
)
select r.map, r.level, r.rank, r.topic, r.label, r.recent_papers, r.baseline_papers, r.rate_ratio,
       r.relative_rate_ratio, r.growth_z, r.relative_z, t.x, t.y,
       (select jsonb_agg(jsonb_build_object('arxiv_id', p.arxiv_id, 'title', p.title,
                                            'published', p.published) order by top.d)
          from (select mp.paper_id, (mp.x - t.x) ^ 2 + (mp.y - t.y) ^ 2 as d
                  from public.map_points mp
                 where mp.map_id = t.map_id and mp.topics[r.level + 1] = r.topic
                   and mp.published at time zone 'UTC' >= w.recent_from
                 order by 2 limit 5) top
          join public.papers p on p.id = top.paper_id) as top_papers
  from ranked r
  join public.maps m on m.name = r.map
  join public.map_topics t on t.map_id = m.id and t.level = r.level and t.topic = r.topic
 cross join analytics.growth_window w
 where r.rank <= 10;

comment on view analytics.fastest_growing_topics is
    'Per map and topic level, the 10 topics growing fastest relative to their map (by relative_z of '
    'analytics.map_topic_growth; topics with at least 20 papers in the two windows), with their centre and '
    'their 5 top papers: recent papers nearest the topic''s centre on the map.';

comment on column analytics.fastest_growing_topics.top_papers is
    'Up to 5 papers of the recent window nearest the topic''s centre: [{arxiv_id, title, published}].';
