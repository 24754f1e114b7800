"""`atlas maps place`: put papers that are not yet on a map where they belong, without moving others.

A paper belongs on a map when it passes the map's filter and has an embedding. Its position is the
weighted geometric median of its nearest papers already on the map (nearest_on_map in
sql/idempotent/050-maps.sql, the HNSW index; weights as place_from_neighbors). Old points keep
their coordinates. In the same transaction the map's levels are assigned again and only the tiles
whose points changed are rewritten (`update_layout`), and the new points join the existing topics
(`add_points_to_topics`): only the topics that gained papers change. A map whose tiles or topics
were already stale (a trigger took points off it) gets them rewritten whole instead. A category
the map did not list is appended to maps.categories, so older points keep their codes.
`atlas load` and `atlas update` run this when maps exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from app.core.connections import connect
from app.core.settings import Settings
from etl.maps.build import map_quadtree, read_map_points, update_layout, write_layout
from etl.maps.definitions import MapSpec
from etl.maps.projection import PLACEMENT_NEIGHBORS, place_from_neighbors
from etl.maps.tiles import TILE_FORMAT

BATCH = 500


@dataclass
class PlaceSummary:
    name: str
    placed: int
    seconds: float
    tiles_written: int = 0  # tiles rewritten because their points changed
    tiles_total: int = 0  # tiles of the map afterwards
    topics_changed: int = 0  # topics (all levels) whose counts changed; -1 = the map has no topics
    placed_share: float = 0.0  # share of the map's papers placed since it was built
    rebuild_due: bool = False  # placed_share passed ATLAS_MAP_REBUILD_SHARE
    whole: bool = False  # tiles or topics were rewritten whole (they were stale before)

    def describe(self) -> str:
        text = f"map {self.name}: {self.placed} papers placed in {self.seconds:.1f} s"
        if self.placed:
            how = "whole map rewritten" if self.whole else f"{self.tiles_written} of {self.tiles_total} tiles rewritten"
            topics = f", {self.topics_changed} topics changed" if self.topics_changed >= 0 else ""
            text += f" ({how}{topics}; {self.placed_share:.1%} of the map placed since its build)"
        if self.rebuild_due:
            text += f"; rebuild due: `atlas maps build --name {self.name}`"
        return text


def _map_specs(conn: psycopg.Connection, names: list[str] | None) -> list[tuple[int, MapSpec]]:
    rows = conn.execute("select id, name, title, filter from maps order by id").fetchall()
    found = {name for _, name, _, _ in rows}
    missing = sorted(set(names or []) - found)
    if missing:
        raise ValueError(f"no map named {', '.join(missing)} (see `atlas maps list`)")
    return [(i, MapSpec(n, t, tuple(f))) for i, n, t, f in rows if names is None or n in names]


def _unplaced(conn: psycopg.Connection, map_id: int, spec: MapSpec) -> list[int]:
    where, params = spec.where()
    query = sql.SQL(
        "select p.id from papers p where p.embedding is not null and ({}) and not exists "
        "(select 1 from map_points mp where mp.map_id = %s and mp.paper_id = p.id) order by p.id"
    ).format(where)
    return [row[0] for row in conn.execute(query, (*params, map_id))]


def _neighbors(conn: psycopg.Connection, name: str, paper_ids: list[int]) -> dict[int, list[tuple]]:
    rows = conn.execute(
        """
        select q.id, n.x, n.y, n.similarity
          from papers q cross join lateral nearest_on_map(%s, q.embedding, %s) n
         where q.id = any(%s)
        """,
        (name, PLACEMENT_NEIGHBORS, paper_ids),
    ).fetchall()
    found: dict[int, list[tuple]] = {}
    for paper_id, x, y, similarity in rows:
        found.setdefault(paper_id, []).append((x, y, similarity))
    return found


def placed_shares(conn: psycopg.Connection) -> dict[str, float]:
    """Each map's share of papers placed since it was built (map_points.placed)."""
    return dict(conn.execute(
        "select m.name, coalesce(avg(mp.placed::int), 0)::float from maps m "
        "left join map_points mp on mp.map_id = m.id group by m.name"
    ).fetchall())


def _write_points(conn: psycopg.Connection, map_id: int, placed: list[tuple[int, float, float]]) -> bool:
    """Insert the placed points with their category code and date; True when the map's categories grew."""
    conn.execute("create temp table placed_points (paper_id bigint, x real, y real) on commit drop")
    with conn.cursor().copy("copy placed_points (paper_id, x, y) from stdin") as copy:
        for row in placed:
            copy.write_row(row)
    # A category the map did not list yet goes at the end, so that the codes of older points (and their
    # tiles) stay as they are; a rebuild sorts the list again.
    grew = conn.execute(
        """
        update maps m set categories = m.categories || array(
                   select distinct p.main_category from placed_points n join papers p on p.id = n.paper_id
                    where p.main_category is not null and array_position(m.categories, p.main_category) is null
                    order by 1)
         where m.id = %s and exists (select 1 from placed_points n join papers p on p.id = n.paper_id
                                      where p.main_category is not null
                                        and array_position(m.categories, p.main_category) is null)
        """,
        (map_id,),
    ).rowcount
    conn.execute(
        """
        insert into map_points (map_id, paper_id, x, y, placed, category, published, embedding)
        select %s, n.paper_id, n.x, n.y, true, coalesce(array_position(m.categories, p.main_category), 0), p.published,
               p.embedding
          from placed_points n join papers p on p.id = n.paper_id join maps m on m.id = %s
        """,
        (map_id, map_id),
    )
    conn.execute("drop table placed_points")
    return bool(grew)


def place_papers(settings: Settings, names: list[str] | None = None) -> list[PlaceSummary]:
    """Place every paper missing from each map (all maps, or those named); update tiles and topics."""
    from etl.maps.topics import add_points_to_topics, build_map_topics

    summaries: list[PlaceSummary] = []
    with connect(settings) as conn:
        for map_id, spec in _map_specs(conn, names):
            started = time.monotonic()
            with conn.transaction():
                staleness = conn.execute(
                    "select coalesce(tiles_built_at < points_changed_at, true) or tile_format < %s, "
                    "coalesce(topics_built_at < points_changed_at, true) from maps where id = %s for update",
                    (TILE_FORMAT, map_id),
                ).fetchone()
                tiles_stale, topics_stale = staleness if staleness is not None else (True, True)
                todo = _unplaced(conn, map_id, spec)
                quadtree = map_quadtree(conn, map_id)
                has_points = conn.execute(
                    "select exists (select 1 from map_points where map_id = %s)", (map_id,)
                ).fetchone()[0]
                if not todo or quadtree is None or not has_points:
                    summaries.append(PlaceSummary(spec.name, 0, time.monotonic() - started))
                    continue
                placed: list[tuple[int, float, float]] = []
                for start in range(0, len(todo), BATCH):
                    batch = todo[start:start + BATCH]
                    near = _neighbors(conn, spec.name, batch)
                    for paper_id in batch:
                        rows = np.array(near[paper_id], dtype=np.float64)
                        xy = place_from_neighbors(rows[None, :, :2], rows[None, :, 2])[0]
                        placed.append((paper_id, float(xy[0]), float(xy[1])))
                _write_points(conn, map_id, placed)
                summary = PlaceSummary(spec.name, len(placed), 0.0)
                if tiles_stale:
                    summary.tiles_written, _ = write_layout(
                        conn, map_id, read_map_points(conn, map_id), quadtree, settings.tile_points,
                        settings.map_seed, points_written=True,
                    )
                    summary.tiles_total, summary.whole = summary.tiles_written, True
                else:
                    layout = update_layout(conn, map_id, quadtree, settings.tile_points, settings.map_seed,
                                           np.array([p[0] for p in placed], dtype=np.int64))
                    summary.tiles_written, summary.tiles_total = layout.tiles_written, layout.tiles_total
                if topics_stale:
                    result = build_map_topics(conn, map_id, seed=settings.map_seed)
                    summary.topics_changed, summary.whole = len(result.topics), True
                else:
                    summary.topics_changed = add_points_to_topics(
                        conn, map_id, np.array([p[0] for p in placed], dtype=np.int64),
                        np.array([(p[1], p[2]) for p in placed], dtype=np.float64),
                    )
                conn.execute(
                    "update maps set points_changed_at = now(), tiles_built_at = now(), "
                    "topics_built_at = case when topics_built_at is null then null else now() end where id = %s",
                    (map_id,),
                )
                share = conn.execute(
                    "select coalesce(avg(placed::int), 0)::float from map_points where map_id = %s", (map_id,)
                ).fetchone()[0]
                summary.placed_share = share
                summary.rebuild_due = share > settings.map_rebuild_share
            summary.seconds = time.monotonic() - started
            summaries.append(summary)
    return summaries
