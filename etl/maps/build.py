"""`atlas maps build`: project a map's papers, lay out its level of detail, write tiles and topics.

Flow for one map: read the embeddings of its papers (binary COPY) -> coordinates (the seed's
x_umap/y_umap when the seed shipped this map, else UMAP, etl/maps/projection.py) -> one
transaction that replaces the map's row, points, tiles and topics. The slow projection runs
before the transaction, so readers see the old map until the new one is whole.

`write_layout` (levels, tiles, bounds) also serves `atlas maps place`: after new points land, the
quadtree square stays as it was, so old points keep their places and most keep their levels.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from app.core.connections import connect
from app.core.settings import Settings
from etl.maps.definitions import MapSpec
from etl.maps.growth import write_month_density
from etl.maps.levels import Quadtree, assign_levels, point_priority
from etl.maps.projection import PLACEMENT_NEIGHBORS, ProjectionParams, place_from_neighbors, project
from etl.maps.tiles import TILE_FORMAT, encode_tiles, month_codes, trust_codes
from etl.maps.trust import local_trust
from etl.vectors import read_embeddings


@dataclass
class MapBuildSummary:
    name: str
    papers: int
    method: str
    seconds: float
    tiles: int = 0
    max_level: int = 0
    topics: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        return (
            f"map {self.name}: {self.papers} papers ({self.method}), {self.tiles} tiles over levels "
            f"0-{self.max_level}, {self.topics} topics in {self.seconds:.1f} s ({phases})"
        )


def projection_id(info: dict[str, Any], ids: np.ndarray) -> str:
    """A short hash of how a map was projected: its parameters and seed, and the papers it was fitted on
    (the seeded sample is drawn from them), so that a saved view can tell whether its map moved."""
    params = {k: v for k, v in info.items() if k not in ("seconds", "projection_id")}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(ids, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def projection_params(settings: Settings) -> ProjectionParams:
    return ProjectionParams(
        n_neighbors=settings.umap_n_neighbors, min_dist=settings.umap_min_dist, seed=settings.map_seed,
        fit_sample=settings.map_fit_sample, n_epochs=settings.umap_n_epochs or None,
    )


@dataclass
class MapPoints:
    """The points of one map, aligned arrays ordered by paper id."""

    paper_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    main_categories: np.ndarray  # object array of str
    months: np.ndarray  # float months since 1970-01, NaN = unknown
    published: list | None = None  # papers.published (datetime or None), copied to map_points.published
    trust: np.ndarray | None = None  # local trustworthiness (float, NaN = unknown), map_points.trust


_PAPER_FACTS = """
    select p.id, p.main_category,
           (extract(year from p.published at time zone 'UTC') - 1970) * 12
             + extract(month from p.published at time zone 'UTC') - 1,
           p.published
"""


def _paper_facts(conn: psycopg.Connection, spec: MapSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    where, params = spec.where()
    rows = conn.execute(
        sql.SQL(_PAPER_FACTS + " from papers p where p.embedding is not null and ({}) order by p.id").format(
            where
        ),
        params,
    ).fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    categories = np.array([r[1] for r in rows], dtype=object)
    months = np.array([np.nan if r[2] is None else float(r[2]) for r in rows], dtype=np.float64)
    return ids, categories, months, [r[3] for r in rows]


def read_map_points(conn: psycopg.Connection, map_id: int) -> MapPoints:
    rows = conn.execute(
        _PAPER_FACTS.replace("select p.id,", "select p.id, mp.x, mp.y,") + ", mp.trust"  # noqa: S608 - identifiers from this module's constants; values are bound parameters
        + " from map_points mp join papers p on p.id = mp.paper_id where mp.map_id = %s order by p.id",
        (map_id,),
    ).fetchall()
    return MapPoints(
        paper_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
        x=np.fromiter((r[1] for r in rows), dtype=np.float32, count=len(rows)),
        y=np.fromiter((r[2] for r in rows), dtype=np.float32, count=len(rows)),
        main_categories=np.array([r[3] for r in rows], dtype=object),
        months=np.array([np.nan if r[4] is None else float(r[4]) for r in rows], dtype=np.float64),
        published=[r[5] for r in rows],
        trust=np.array([np.nan if r[6] is None else r[6] for r in rows], dtype=np.float32),
    )


def _seed_coordinates(
    conn: psycopg.Connection, spec: MapSpec, ids: np.ndarray, vectors: np.ndarray,
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The seed's own x_umap/y_umap for this map, if one of its pickles covers at least half of it.

    Each seed pickle is one archive's map (its own coordinate system), loaded as a dataset named
    after the file; the dataset holding the most of this map's papers is used as it is, and the
    map's papers without seed coordinates are placed from their nearest seeded papers.
    """
    if len(ids) == 0:
        return None
    best = conn.execute(
        """
        select c.dataset, count(*) from seed_map_coordinates c
         where c.paper_id = any(%s) group by c.dataset order by count(*) desc, c.dataset limit 1
        """,
        (ids.tolist(),),
    ).fetchone()
    if best is None or best[1] * 2 < len(ids):
        return None
    dataset = best[0]
    rows = conn.execute(
        "select paper_id, x, y from seed_map_coordinates where dataset = %s order by paper_id", (dataset,)
    ).fetchall()
    seeded_ids = np.array([r[0] for r in rows], dtype=np.int64)
    seeded_xy = np.array([(r[1], r[2]) for r in rows], dtype=np.float32)
    position = np.searchsorted(seeded_ids, ids)
    position = np.clip(position, 0, len(seeded_ids) - 1)
    has_seed = seeded_ids[position] == ids
    coords = np.empty((len(ids), 2), dtype=np.float32)
    coords[has_seed] = seeded_xy[position[has_seed]]
    missing = np.flatnonzero(~has_seed)
    anchors = np.flatnonzero(has_seed)
    if len(anchors) == 0:
        return None
    k = min(PLACEMENT_NEIGHBORS, len(anchors))
    for start in range(0, len(missing), 2048):
        chunk = missing[start:start + 2048]
        similarity = vectors[chunk] @ vectors[anchors].T
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        near_sim = np.take_along_axis(similarity, nearest, axis=1)
        coords[chunk] = place_from_neighbors(coords[anchors][nearest], near_sim)
    info = {"method": "seed", "dataset": dataset, "papers": len(ids), "seeded": int(has_seed.sum()),
            "placed": int(len(missing))}
    return coords, info


def category_codes(main_categories: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The map's category list (sorted) and each point's 1-based index in it (the tiles' uint16)."""
    names = sorted({c for c in main_categories if c})
    index = {name: i + 1 for i, name in enumerate(names)}
    return names, np.fromiter((index.get(c, 0) for c in main_categories), dtype=np.uint16,
                              count=len(main_categories))


# map_points.category / published (the viewport query's filters, sql/idempotent/050-maps.sql) from papers,
# for the points whose copies are missing or out of date.
SYNC_FACTS_SQL = """
update map_points mp
   set category = coalesce(array_position(%(names)s::text[], p.main_category), 0), published = p.published
  from papers p
 where mp.map_id = %(map)s and p.id = mp.paper_id
   and (mp.category, mp.published) is distinct from
       (coalesce(array_position(%(names)s::text[], p.main_category), 0), p.published)
"""


def write_layout(
    conn: psycopg.Connection, map_id: int, points: MapPoints, quadtree: Quadtree, budget: int, seed: int,
    *, points_written: bool,
) -> tuple[int, int]:
    """Levels, tiles and bounds of a map from its points; returns (tiles, max level).

    points_written=False: the map_points rows are written here (a fresh build, by COPY);
    True: they exist and only the rows whose level or tile changed are updated.
    Either way each point's category code (its index into the map's categories, as in the tiles)
    and publication time are copied to map_points for the viewport query.
    """
    priority = point_priority(points.paper_ids, seed)
    levels = assign_levels(quadtree, points.x, points.y, priority, budget)
    tile_x, tile_y = quadtree.tiles(points.x, points.y, levels)
    names, codes = category_codes(points.main_categories)
    if points_written:
        conn.execute(
            "create temp table layout (paper_id bigint primary key, level smallint, tile_x integer, "
            "tile_y integer) on commit drop"
        )
        with conn.cursor().copy("copy layout (paper_id, level, tile_x, tile_y) from stdin") as copy:
            for row in zip(points.paper_ids.tolist(), levels.tolist(), tile_x.tolist(), tile_y.tolist(),
                           strict=True):
                copy.write_row(row)
        conn.execute(
            """
            update map_points mp set level = l.level, tile_x = l.tile_x, tile_y = l.tile_y
              from layout l
             where mp.map_id = %s and mp.paper_id = l.paper_id
               and (mp.level, mp.tile_x, mp.tile_y) is distinct from (l.level, l.tile_x, l.tile_y)
            """,
            (map_id,),
        )
        conn.execute("drop table layout")
        # Points placed since (or codes renumbered by a new category) get their facts here.
        conn.execute(SYNC_FACTS_SQL, {"names": names, "map": map_id})
    else:
        published = points.published if points.published is not None else [None] * len(points.paper_ids)
        trust = [None if t != t else t for t in points.trust.tolist()] if points.trust is not None else (
            [None] * len(points.paper_ids))
        # Staged, then inserted beside each paper's vector (map_points.embedding, for the footprint scan),
        # which the database already holds: the vectors do not travel back through the COPY.
        conn.execute(
            "create temp table new_points (paper_id bigint, x real, y real, level smallint, tile_x integer, "
            "tile_y integer, category smallint, published timestamptz, trust real) on commit drop"
        )
        with conn.cursor().copy(
            "copy new_points (paper_id, x, y, level, tile_x, tile_y, category, published, trust) from stdin"
        ) as copy:
            for row in zip(points.paper_ids.tolist(), points.x.tolist(), points.y.tolist(), levels.tolist(),
                           tile_x.tolist(), tile_y.tolist(), codes.tolist(), published, trust, strict=True):
                copy.write_row(row)
        conn.execute(
            """
            insert into map_points (map_id, paper_id, x, y, level, tile_x, tile_y, category, published, trust,
                                    embedding)
            select %s, n.paper_id, n.x, n.y, n.level, n.tile_x, n.tile_y, n.category, n.published, n.trust,
                   p.embedding
              from new_points n join papers p on p.id = n.paper_id
            """,
            (map_id,),
        )
        conn.execute("drop table new_points")
        if points.published is None:
            conn.execute(SYNC_FACTS_SQL, {"names": names, "map": map_id})

    conn.execute("delete from map_tiles where map_id = %s", (map_id,))
    tiles = 0
    with conn.cursor().copy("copy map_tiles (map_id, z, x, y, points, data) from stdin") as copy:
        for tile in encode_tiles(quadtree, points.x, points.y, levels, priority, points.paper_ids, codes,
                                 month_codes(points.months), trust_codes(points.trust, len(points.paper_ids))):
            copy.write_row((map_id, tile.z, tile.x, tile.y, tile.points, tile.data))
            tiles += 1
    write_month_density(conn, map_id, quadtree, points.x, points.y, points.months)  # etl/maps/growth.py
    max_level = int(levels.max()) if len(levels) else 0
    bounds = (
        (float(points.x.min()), float(points.y.min()), float(points.x.max()), float(points.y.max()))
        if len(points.x) else (None, None, None, None)
    )
    conn.execute(
        """
        update maps set paper_count = %s, x_min = %s, y_min = %s, x_max = %s, y_max = %s,
               origin_x = %s, origin_y = %s, extent = %s, tile_points = %s, max_level = %s,
               categories = %s, tile_format = %s, tiles_built_at = now()
         where id = %s
        """,
        (len(points.paper_ids), *bounds, quadtree.origin_x, quadtree.origin_y, quadtree.extent, budget,
         max_level, names, TILE_FORMAT, map_id),
    )
    return tiles, max_level


# The layout of a map's points as one fixed-width binary COPY stream (no nulls): parsed by numpy.
_LAYOUT_SQL = """
copy (select paper_id, x, y, level, tile_x, tile_y, category,
             coalesce(((extract(year from published at time zone 'UTC') - 1970) * 12
                       + extract(month from published at time zone 'UTC') - 1)::integer, -1),
             placed, coalesce(trust, 'NaN')
        from map_points where map_id = %s order by paper_id) to stdout (format binary)
"""
_LAYOUT_ROW = np.dtype([
    ("fields", ">i2"), ("len_id", ">i4"), ("paper_id", ">i8"), ("len_x", ">i4"), ("x", ">f4"),
    ("len_y", ">i4"), ("y", ">f4"), ("len_level", ">i4"), ("level", ">i2"), ("len_tx", ">i4"), ("tile_x", ">i4"),
    ("len_ty", ">i4"), ("tile_y", ">i4"), ("len_category", ">i4"), ("category", ">i2"), ("len_month", ">i4"),
    ("month", ">i4"), ("len_placed", ">i4"), ("placed", "u1"), ("len_trust", ">i4"), ("trust", ">f4"),
])


def read_layout(conn: psycopg.Connection, map_id: int) -> np.ndarray:
    """Every point of a map with its stored level, tile, category code, month (-1 = unknown), placed flag and
    trust (NaN = unknown)."""
    chunks: list[bytes] = []
    with conn.cursor() as cursor, cursor.copy(_LAYOUT_SQL, (map_id,)) as copy:
        for block in copy:
            chunks.append(bytes(block))
    body = b"".join(chunks)[19:-2]  # PGCOPY header, 2-byte trailer
    if len(body) % _LAYOUT_ROW.itemsize:
        raise RuntimeError(f"map {map_id}: unexpected COPY stream of {len(body)} bytes")
    return np.frombuffer(body, dtype=_LAYOUT_ROW)


def _tile_keys(level: np.ndarray, tile_x: np.ndarray, tile_y: np.ndarray) -> np.ndarray:
    """One int64 per (level, tile_x, tile_y): levels <= 24 and tile indices < 2^24 fit."""
    return (level.astype(np.int64) << 52) | (tile_x.astype(np.int64) << 26) | tile_y.astype(np.int64)


@dataclass
class LayoutUpdate:
    tiles_written: int  # tiles rewritten (their points changed)
    tiles_deleted: int  # tiles left empty, removed
    tiles_total: int  # tiles of the map afterwards
    points_relevelled: int  # old points whose level (and so tile) changed: pushed down by new ones
    max_level: int


def update_layout(
    conn: psycopg.Connection, map_id: int, quadtree: Quadtree, budget: int, seed: int, new_ids: np.ndarray,
) -> LayoutUpdate:
    """Levels and tiles after points `new_ids` joined the map; rewrites only the tiles whose points changed.

    The new map_points rows must be written (with their category code and publication time). Levels are
    assigned again for every point (numpy, about a second at 1.2M), since a new point of high priority
    pushes an older one of its tile to a deeper level. A tile's bytes depend only on the points of its
    (level, tile) key, so the tiles to write are the keys of the new points and the old and new keys of the
    older points whose level changed; every other tile keeps its row untouched. Coordinates never change.
    Call it only when the map's tiles are up to date with its points, in the current TILE_FORMAT, and its
    category codes did not change (else `write_layout`).
    """
    points = read_layout(conn, map_id)
    ids = points["paper_id"].astype(np.int64)
    x, y = points["x"].astype(np.float32), points["y"].astype(np.float32)
    priority = point_priority(ids, seed)
    levels = assign_levels(quadtree, x, y, priority, budget)
    tile_x, tile_y = quadtree.tiles(x, y, levels)
    is_new = np.isin(ids, np.asarray(new_ids, dtype=np.int64))
    old_keys = _tile_keys(points["level"], points["tile_x"], points["tile_y"])
    keys = _tile_keys(levels, tile_x, tile_y)
    changed = is_new | (keys != old_keys)
    affected = np.union1d(keys[changed], old_keys[changed & ~is_new])
    if changed.any():
        conn.execute(
            "create temp table layout (paper_id bigint primary key, level smallint, tile_x integer, "
            "tile_y integer) on commit drop"
        )
        with conn.cursor().copy("copy layout (paper_id, level, tile_x, tile_y) from stdin") as copy:
            for row in zip(ids[changed].tolist(), levels[changed].tolist(), tile_x[changed].tolist(),
                           tile_y[changed].tolist(), strict=True):
                copy.write_row(row)
        conn.execute(
            "update map_points mp set level = l.level, tile_x = l.tile_x, tile_y = l.tile_y from layout l "
            "where mp.map_id = %s and mp.paper_id = l.paper_id",
            (map_id,),
        )
        conn.execute("drop table layout")
    rewrite = np.isin(keys, affected)
    months = points["month"].astype(np.float64)
    months[months < 0] = np.nan
    tiles = list(encode_tiles(quadtree, x[rewrite], y[rewrite], levels[rewrite], priority[rewrite], ids[rewrite],
                              points["category"][rewrite].astype(np.uint16), month_codes(months[rewrite]),
                              trust_codes(points["trust"][rewrite].astype(np.float32), int(rewrite.sum()))))
    z_of, x_of, y_of = affected >> 52, (affected >> 26) & ((1 << 26) - 1), affected & ((1 << 26) - 1)
    deleted = conn.execute(
        "delete from map_tiles t using unnest(%s::smallint[], %s::integer[], %s::integer[]) a(z, x, y) "
        "where t.map_id = %s and (t.z, t.x, t.y) = (a.z, a.x, a.y) returning t.z, t.x, t.y",
        (z_of.tolist(), x_of.tolist(), y_of.tolist(), map_id),
    ).fetchall()
    emptied = set(deleted) - {(t.z, t.x, t.y) for t in tiles}
    with conn.cursor().copy("copy map_tiles (map_id, z, x, y, points, data) from stdin") as copy:
        for tile in tiles:
            copy.write_row((map_id, tile.z, tile.x, tile.y, tile.points, tile.data))
    max_level = int(levels.max()) if len(levels) else 0
    total = conn.execute(
        """
        update maps set paper_count = %s, x_min = %s, y_min = %s, x_max = %s, y_max = %s, max_level = %s,
               tiles_built_at = now()
         where id = %s
        returning (select count(*) from map_tiles where map_id = %s)
        """,
        (len(ids), float(x.min()), float(y.min()), float(x.max()), float(y.max()), max_level, map_id, map_id),
    ).fetchone()[0]
    return LayoutUpdate(len(tiles), len(emptied), total,
                        int((changed & ~is_new).sum()), max_level)


def map_quadtree(conn: psycopg.Connection, map_id: int) -> Quadtree | None:
    row = conn.execute("select origin_x, origin_y, extent from maps where id = %s", (map_id,)).fetchone()
    if row is None or row[2] is None:
        return None
    return Quadtree(*row)


def build_map(settings: Settings, spec: MapSpec, *, with_topics: bool = True) -> MapBuildSummary:
    """Build (or rebuild) one map: coordinates, points, levels, tiles, topics."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    with connect(settings) as conn:
        where, params = spec.where()
        ids, vectors = read_embeddings(conn, where, params)
        fact_ids, main_categories, months, published = _paper_facts(conn, spec)
        conn.commit()
        if not np.array_equal(ids, fact_ids):
            raise RuntimeError(f"map {spec.name}: the papers changed while the map was read; build again")
        mark = time.monotonic()
        timings["read"] = mark - started
        seeded = _seed_coordinates(conn, spec, ids, vectors)
        coords, info = seeded if seeded is not None else project(vectors, projection_params(settings))
        info = info | {"projection_id": projection_id(info, ids)}
        timings["projection"] = time.monotonic() - mark
        mark = time.monotonic()
        trust = local_trust(vectors, coords)  # map_points.trust and the tiles' trust field (etl/maps/trust.py)
        timings["trust"] = time.monotonic() - mark
        mark = time.monotonic()
        points = MapPoints(ids, coords[:, 0].copy(), coords[:, 1].copy(), main_categories, months, published,
                           trust)
        quadtree = Quadtree.around(points.x, points.y)
        topics = 0
        with conn.transaction():
            map_id = conn.execute(
                """
                insert into maps (name, title, filter, projection)
                values (%s, %s, %s, %s)
                on conflict (name) do update set title = excluded.title, filter = excluded.filter,
                       projection = excluded.projection
                returning id
                """,
                (spec.name, spec.title, list(spec.filter), json.dumps(info)),
            ).fetchone()[0]
            conn.execute("delete from map_points where map_id = %s", (map_id,))
            tiles, max_level = write_layout(
                conn, map_id, points, quadtree, settings.tile_points, settings.map_seed, points_written=False,
            )
            timings["layout + tiles"] = time.monotonic() - mark
            mark = time.monotonic()
            if with_topics and len(ids):
                from etl.maps.topics import build_map_topics

                result = build_map_topics(conn, map_id, seed=settings.map_seed)
                topics = len(result.topics)
                timings["topics"] = time.monotonic() - mark
            seconds = time.monotonic() - started
            conn.execute(
                "update maps set built_at = now(), build_seconds = %s, points_changed_at = now() where id = %s",
                (seconds, map_id),
            )
        conn.commit()
        # Marks the new rows all-visible: the viewport query is an index-only scan of map_points_tile.
        conn.autocommit = True
        conn.execute("vacuum (analyze) map_points")
    return MapBuildSummary(spec.name, len(ids), info["method"], time.monotonic() - started, tiles, max_level,
                           topics, timings)
