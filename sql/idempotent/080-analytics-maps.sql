-- 080-analytics-maps.sql: The analysts' views of the maps, topics and neighbour lists.
-- The one live definition of each object below. `atlas db upgrade` (and `alembic upgrade head`)
-- re-applies every file of sql/idempotent/ in name order after the migrations, so edit the object
-- here and run `atlas db upgrade`; tables, columns and indexes change only through migrations.

-- The analysts' views over the maps: maps, their points with topic labels, their topics, and the
-- precomputed neighbour lists (sql/analytics.sql holds the rest of schema analytics).
-- Views run with their owner's rights; the privileges of atlas_reader are re-applied at the end.

-- analytics.maps: the 2-D maps of the papers (all papers, one per large archive, custom ones):
-- which papers each holds and how it was projected. For BI tools that draw scatter plots.
create or replace view analytics.maps as
select m.name as map, m.title, m.filter, m.paper_count,
       m.projection ->> 'method' as projection_method, m.projection,
       m.x_min, m.y_min, m.x_max, m.y_max, m.built_at
  from public.maps m;

comment on view analytics.maps is
    'The 2-D maps of the papers: name, title, filter (archives or categories; empty = all papers), size, '
    'projection (UMAP parameters) and bounds.';

comment on column analytics.maps.filter is
    'Archives or categories whose papers (by main category) are on the map; empty = every paper.';

-- analytics.map_topics: the topics of each map at each level (0 = coarsest), with their labels,
-- sizes, centres and the label of the topic one level up. For "what is on this map" questions.
create or replace view analytics.map_topics as
select m.name as map, t.level, t.topic, t.label, t.label_source, t.terms, t.size,
       round(100.0 * t.size / nullif(m.paper_count, 0), 2) as share_percent,
       t.x, t.y, t.radius, t.parent, parent.label as parent_label
  from public.map_topics t
  join public.maps m on m.id = t.map_id
  left join public.map_topics parent
    on parent.map_id = t.map_id and parent.level = t.level - 1 and parent.topic = t.parent;

comment on view analytics.map_topics is
    'Topics of each map at several levels (0 = coarsest): label from distinctive title terms (or an LLM), '
    'size in papers, centre and radius in map coordinates, and the parent topic one level up.';

comment on column analytics.map_topics.label_source is
    '''terms'' (class-based TF-IDF of titles) or ''llm:<model>'' (a short label written by a chat model).';

comment on column analytics.map_topics.share_percent is 'Share of the map''s papers in this topic, in percent.';

-- analytics.map_points: every paper on every map with its coordinates and its topic labels at the
-- coarsest and the finest level. For scatter plots in BI tools (x, y, colour by category or topic).
create or replace view analytics.map_points as
select m.name as map, p.arxiv_id, p.title, p.main_category, p.archive, p.published,
       mp.x, mp.y, mp.level as zoom_level, mp.placed,
       coarse.label as coarse_topic, fine.label as fine_topic, mp.topics as topic_ids,
       p.id as paper_id
  from public.map_points mp
  join public.maps m on m.id = mp.map_id
  join public.papers p on p.id = mp.paper_id
  left join public.map_topics coarse
    on coarse.map_id = mp.map_id and coarse.level = 0 and coarse.topic = mp.topics[1]
  left join public.map_topics fine
    on fine.map_id = mp.map_id and fine.level = cardinality(mp.topics) - 1
   and fine.topic = mp.topics[cardinality(mp.topics)];

comment on view analytics.map_points is
    'Each paper on each map: coordinates, the first zoom level that shows it, and its coarsest and finest '
    'topic labels.';

comment on column analytics.map_points.zoom_level is
    'First zoom level of the web map that shows this point (level of detail; 0 = the overview).';

comment on column analytics.map_points.placed is
    'True when the paper was placed from its nearest neighbours (added after the map was projected).';

comment on column analytics.map_points.paper_id is
    'Internal id of the paper (analytics.papers.paper_id); the web map draws rows with it or arxiv_id.';

comment on column analytics.map_points.topic_ids is
    'Topic of the paper at each level, coarsest first (topic ids of analytics.map_topics).';

-- analytics.paper_neighbors: each paper's precomputed nearest papers (rank 1 = most similar), with
-- titles on both sides. Faster than analytics.similar_papers for many papers at once.
create or replace view analytics.paper_neighbors as
select p.arxiv_id, p.title, n.rank, q.arxiv_id as neighbor_arxiv_id, q.title as neighbor_title,
       q.main_category as neighbor_main_category, n.similarity
  from public.paper_neighbors n
  join public.papers p on p.id = n.paper_id
  join public.papers q on q.id = n.neighbor_id;

comment on view analytics.paper_neighbors is
    'The 10 nearest papers of every paper by cosine similarity of the embeddings (precomputed with the '
    'HNSW index; rank 1 = most similar).';

comment on column analytics.paper_neighbors.similarity is 'Cosine similarity of the two papers (1 = same direction).';
