-- 087-analytics-trust.sql: Where a map can be trusted: local trustworthiness per point and per topic.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.
--
-- map_points.trust (migration 0014, written by `atlas build`, etl/maps/trust.py): the share of a
-- point's 10 nearest papers of the map by embedding (cosine) that are among its 10 nearest on the map.

-- analytics.map_point_trust: each paper of each map with its local trustworthiness. For colouring a
-- scatter plot by how far the 2-D picture can be believed.
create or replace view analytics.map_point_trust as
select m.name as map, p.arxiv_id, p.title, mp.x, mp.y, mp.trust, mp.placed, mp.topics as topic_ids
  from public.map_points mp
  join public.maps m on m.id = mp.map_id
  join public.papers p on p.id = mp.paper_id;

comment on view analytics.map_point_trust is
    'Each paper on each map with its local trustworthiness: the share (0-1) of its 10 nearest papers of the map '
    'by embedding that are also among its 10 nearest on the map. Null for papers placed after the build.';

comment on column analytics.map_point_trust.trust is
    '|10 nearest by embedding ∩ 10 nearest on the map| / 10: 1 = the map keeps the neighbourhood, 0 = it invents it.';

-- analytics.map_topic_trust: per topic of each map (every level), how trustworthy its part of the
-- map is: the mean local trust of its papers and the share of papers whose trust is below 0.3.
create or replace view analytics.map_topic_trust as
select m.name as map, t.level, t.topic, t.label, t.size,
       count(mp.trust) as papers_with_trust,
       round(avg(mp.trust)::numeric, 3) as mean_trust,
       round((count(*) filter (where mp.trust < 0.3))::numeric / nullif(count(mp.trust), 0), 3) as low_trust_share
  from public.map_topics t
  join public.maps m on m.id = t.map_id
  join public.map_points mp on mp.map_id = t.map_id and mp.topics[t.level + 1] = t.topic
 group by m.name, t.level, t.topic, t.label, t.size;

comment on view analytics.map_topic_trust is
    'Per topic of each map (every level): mean local trustworthiness of its papers (share of each paper''s 10 '
    'embedding neighbours that are among its 10 map neighbours) and the share of its papers below 0.3.';

comment on column analytics.map_topic_trust.low_trust_share is
    'Share of the topic''s papers with trust < 0.3 (at most 2 of their 10 true neighbours drawn next to them).';
