-- 100-views.sql: what makes a saved view of the web map reproducible: the corpus snapshot id (moved on by
-- every change to the papers or the maps), the embedding space id and each map's projection id.
-- The tables (corpus_snapshot, saved_views) come from migration 0013; the API reads these through
-- corpus_state() when it saves or restores a view (app/services/views.py).

-- bump_corpus_snapshot: statement trigger function; moves the snapshot id on, once per statement that
-- changed papers, maps or map points (a load, an embedding batch, a map build or placement).
create or replace function bump_corpus_snapshot() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    update corpus_snapshot
       set snapshot_id = snapshot_id + 1, changed_at = now(), changed_by = tg_table_name || ' ' || lower(tg_op);
    return null;
end;
$$;

-- papers_bump_corpus_snapshot: loads and embedding runs change the snapshot.
create or replace trigger papers_bump_corpus_snapshot
    after insert or update or delete or truncate on papers
    for each statement execute function bump_corpus_snapshot();

-- maps_bump_corpus_snapshot: map builds change the snapshot.
create or replace trigger maps_bump_corpus_snapshot
    after insert or update or delete or truncate on maps
    for each statement execute function bump_corpus_snapshot();

-- map_points_bump_corpus_snapshot: placing new papers on a map changes the snapshot.
create or replace trigger map_points_bump_corpus_snapshot
    after insert or update or delete or truncate on map_points
    for each statement execute function bump_corpus_snapshot();

-- embedding_space_id: a short hash of the embedding space (model, widths, projection and its fitted
-- PCA), null while there is none. Two databases with the same id embed queries the same way.
create or replace function embedding_space_id() returns text
language sql stable
set search_path = public, pg_temp
begin atomic
    select left(md5(concat_ws('|', s.model, s.native_dimensions, s.dimensions, s.projection,
                              md5(coalesce(s.projection_mean::text, '')),
                              md5(coalesce(s.projection_components::text, '')))), 16)
      from embedding_space s;
end;

-- map_projection_id: a short hash of how a map was projected: the builder's projection_id (parameters,
-- seed and the papers it was fitted on), else a hash of the recorded projection parameters.
create or replace function map_projection_id(map_name text) returns text
language sql stable
set search_path = public, pg_temp
begin atomic
    select coalesce(m.projection ->> 'projection_id', left(md5(m.projection::text), 16))
      from maps m where m.name = map_name;
end;

-- corpus_state: for the API's saved views: the snapshot id, the embedding space id and model, and the
-- projection id of one map (null when there is no such map).
create or replace function corpus_state(map_name text)
returns table (snapshot_id bigint, changed_at timestamptz, space_id text, model text, projection_id text)
language sql stable
set search_path = public, pg_temp
begin atomic
    select c.snapshot_id, c.changed_at, embedding_space_id(), (select s.model from embedding_space s),
           map_projection_id(map_name)
      from corpus_snapshot c;
end;
