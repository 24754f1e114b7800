"""`atlas maps place`: put papers that are not yet on a map where they belong, without moving others.

A paper belongs on a map when it passes the map's filter and has an embedding. Its position is the
weighted mean of its nearest papers already on the map (nearest_on_map in sql/idempotent/050-maps.sql, the HNSW
index; weights as place_from_neighbors). Old points keep their coordinates; the map's levels, tiles
and topics are then refreshed in the same transaction. `atlas load` runs this when maps exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from app.core.connections import connect
from app.core.settings import Settings
from etl.maps.build import map_quadtree, read_map_points, write_layout
from etl.maps.definitions import MapSpec
from etl.maps.projection import PLACEMENT_NEIGHBORS, place_from_neighbors

BATCH = 500


@dataclass
class PlaceSummary:
    name: str
    placed: int
    seconds: float

    def describe(self) -> str:
        return f"map {self.name}: {self.placed} papers placed in {self.seconds:.1f} s"


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


def place_papers(settings: Settings, names: list[str] | None = None) -> list[PlaceSummary]:
    """Place every paper missing from each map (all maps, or those named); refresh their layouts."""
    summaries: list[PlaceSummary] = []
    with connect(settings) as conn:
        for map_id, spec in _map_specs(conn, names):
            started = time.monotonic()
            with conn.transaction():
                conn.execute("select 1 from maps where id = %s for update", (map_id,))
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
                with conn.cursor().copy("copy map_points (map_id, paper_id, x, y, placed) from stdin") as copy:
                    for paper_id, x, y in placed:
                        copy.write_row((map_id, paper_id, x, y, True))
                points = read_map_points(conn, map_id)
                write_layout(conn, map_id, points, quadtree, settings.tile_points, settings.map_seed,
                             points_written=True)
                from etl.maps.topics import build_map_topics

                build_map_topics(conn, map_id, seed=settings.map_seed)
                conn.execute("update maps set points_changed_at = now() where id = %s", (map_id,))
            summaries.append(PlaceSummary(spec.name, len(placed), time.monotonic() - started))
    return summaries
