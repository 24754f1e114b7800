"""Maps for the web map: the list, binary tiles (cached by ETag), bounded viewport queries and a query's
footprint (best and mean similarity per cell over every paper, app/services/footprint.py).

Tiles are the precomputed blobs of map_tiles (layout in docs/maps.md, etl/maps/tiles.py): 13 bytes a
point in tile format 2, 12 in format 1 (maps built before migration 0016); the map list and each tile's
X-Tile-Format header say which. A viewport answer is built from map_points_in_view
(sql/idempotent/050-maps.sql) in the `points` layout below, also little-endian:

    float32 x, float32 y (map coordinates), uint32 paper (papers.id),
    uint16 category (1-based index into the map's categories), uint16 month (months since 1970-01 + 1),
    uint8 trust (1 + round(200 * local trust); 0 = unknown, as in the tiles)

17 bytes a point, no header; X-Point-Count says how many, X-Truncated whether `limit` cut the answer.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date
from typing import Annotated

import numpy as np
from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody, KwargDefinition, Parameter, QueryParameter
from msgspec import Meta

from app.api.dependencies import AppSettings, Models, Pool, SqlPanel
from app.api.error_handlers import ApiError
from app.api.sql_panel import refused, require_panel
from app.core.pools import Database, fetch_all, fetch_one
from app.core.tile_format import RECORDS, trust_codes
from app.services.footprint import DEFAULT_THRESHOLD, FootprintError, FootprintQuery, footprint, layer_centroid
from app.services.query_models import ModelUnavailable
from app.services.sql_runner import MAX_SQL_CHARS, SqlQueryError
from app.services.trust import map_trust

MAP_NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"
POINT = np.dtype([("x", "<f4"), ("y", "<f4"), ("paper", "<u4"), ("category", "<u2"), ("month", "<u2"),
                  ("trust", "u1")])
TILE_CACHE_SECONDS = 300


async def require_map(pool: Database, name: str) -> dict:
    row = await fetch_one(pool, "select * from maps where name = %s", (name,))
    if row is None:
        raise ApiError(status_code=404, detail=f"no map named {name!r}; GET /api/maps lists them")
    if row["extent"] is None:
        raise ApiError(status_code=409, detail=f"map {name!r} is not built yet (`atlas build`)")
    return row


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    if len(parts) != 4:
        raise ApiError(status_code=400, detail="bbox must be four numbers: min_x,min_y,max_x,max_y")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ApiError(status_code=400, detail=f"bbox must be four numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise ApiError(status_code=400, detail="bbox values must be finite numbers")
    min_x, min_y, max_x, max_y = values
    if min_x > max_x or min_y > max_y:
        raise ApiError(status_code=400, detail="bbox must have min_x <= max_x and min_y <= max_y")
    return values  # type: ignore[return-value]


def check_dates(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise ApiError(status_code=400, detail=f"from ({start}) is after to ({end})")


@dataclass
class LayerFootprintRequest:
    """POST /api/maps/{map}/footprint: the footprint of a SQL layer (the centroid of its papers)."""

    sql: Annotated[str, Meta(min_length=1, max_length=MAX_SQL_CHARS, description="one read-only query, as POST "
                             "/api/sql runs it; its rows with an arxiv_id or a paper_id on the map are the layer"),
                   KwargDefinition(min_length=1, max_length=MAX_SQL_CHARS)]
    z: Annotated[int, Meta(ge=0, le=9), KwargDefinition(ge=0, le=9)] = 5
    q2: Annotated[str, Meta(max_length=1000), KwargDefinition(max_length=1000)] | None = None
    paper2: Annotated[str, Meta(max_length=64), KwargDefinition(max_length=64)] | None = None
    threshold: Annotated[float, Meta(ge=-1, le=1), KwargDefinition(ge=-1, le=1)] = DEFAULT_THRESHOLD
    topic_level: Annotated[int, Meta(ge=0, le=10), KwargDefinition(ge=0, le=10)] = 0


class MapsController(Controller):
    path = "/api/maps"
    tags = ["maps"]

    @get("/", summary="Every map: name, title, size, bounds, quadtree and categories")
    async def list_maps(self, pool: Pool) -> list[dict]:
        rows = await fetch_all(
            pool,
            """
            select m.name, m.title, m.filter, m.paper_count, m.x_min, m.y_min, m.x_max, m.y_max,
                   m.origin_x, m.origin_y, m.extent, m.max_level, m.tile_points, m.categories,
                   array(select distinct split_part(c, '.', 1) from unnest(m.categories) c order by 1) as archives,
                   m.projection ->> 'method' as projection, m.built_at, m.tiles_built_at, m.tile_format
              from maps m where m.extent is not null
             order by (m.filter = '{}') desc, m.paper_count desc
            """,
        )
        for row in rows:
            row["bounds"] = [row.pop("x_min"), row.pop("y_min"), row.pop("x_max"), row.pop("y_max")]
            row["quadtree"] = {"origin_x": row.pop("origin_x"), "origin_y": row.pop("origin_y"),
                               "extent": row.pop("extent")}
            row["tile_record"] = RECORDS[row["tile_format"]].itemsize  # bytes a point in its tiles
        return rows

    @get("/{map_name:str}/tiles/{z:int}/{x:int}/{y:int}",
         summary="One binary tile (13 bytes a point; 12 in tile format 1)", media_type="application/octet-stream")
    async def tile(
        self, request: Request, pool: Pool,
        map_name: Annotated[str, Parameter(pattern=MAP_NAME)],
        z: Annotated[int, Parameter(ge=0, le=30)], x: Annotated[int, Parameter(ge=0, le=(1 << 30) - 1)],
        y: Annotated[int, Parameter(ge=0, le=(1 << 30) - 1)],
    ) -> Response[bytes]:
        if x >= 1 << z or y >= 1 << z:
            raise ApiError(status_code=400, detail=f"tile {z}/{x}/{y} is outside the grid (x, y < 2^z)")
        meta = await require_map(pool, map_name)
        etag = hashlib.sha1(f"{map_name}/{meta['tiles_built_at'].isoformat()}/{z}/{x}/{y}".encode(),
                            usedforsecurity=False).hexdigest()
        headers = {"ETag": f'"{etag}"', "Cache-Control": f"public, max-age={TILE_CACHE_SECONDS}"}
        if request.headers.get("if-none-match", "").strip() in (f'"{etag}"', f'W/"{etag}"'):
            return Response(b"", status_code=304, headers=headers)
        row = await fetch_one(pool, "select map_tile(%s, %s, %s, %s) as data", (map_name, z, x, y))
        data = bytes(row["data"]) if row else b""
        headers["X-Point-Count"] = str(len(data) // RECORDS[meta["tile_format"]].itemsize)
        headers["X-Tile-Format"] = str(meta["tile_format"])
        return Response(data, media_type="application/octet-stream", headers=headers)

    @get("/{map_name:str}/points", summary="Points in a box at a zoom, with filters (17 bytes a point)",
         media_type="application/octet-stream")
    async def points(
        self, pool: Pool,
        map_name: Annotated[str, Parameter(pattern=MAP_NAME)],
        bbox: Annotated[str, Parameter(description="min_x,min_y,max_x,max_y in map coordinates", max_length=200)],
        zoom: Annotated[int, Parameter(ge=0, le=30)],
        category: Annotated[str | None, Parameter(max_length=40, pattern=r"^[A-Za-z.-]+$")] = None,
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
        limit: Annotated[int, Parameter(ge=1, le=100_000)] = 20_000,
    ) -> Response[bytes]:
        min_x, min_y, max_x, max_y = parse_bbox(bbox)
        check_dates(date_from, date_to)
        await require_map(pool, map_name)  # 404 / 409 with a reason
        rows = await fetch_all(
            pool,
            """
            select v.paper_id, v.x, v.y, v.category_code, v.trust,
                   (extract(year from v.published at time zone 'UTC') - 1970) * 12
                     + extract(month from v.published at time zone 'UTC') as month
              from map_points_in_view(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) v
            """,
            (map_name, min_x, min_y, max_x, max_y, zoom, limit + 1, category, date_from, date_to),
        )
        truncated = len(rows) > limit
        rows = rows[:limit]
        out = np.zeros(len(rows), dtype=POINT)
        if rows:
            out["x"] = [r["x"] for r in rows]
            out["y"] = [r["y"] for r in rows]
            out["paper"] = [r["paper_id"] for r in rows]
            out["category"] = [r["category_code"] for r in rows]
            out["month"] = [int(r["month"]) if r["month"] is not None else 0 for r in rows]
            trust = np.array([np.nan if r["trust"] is None else r["trust"] for r in rows], dtype=np.float64)
            out["trust"] = trust_codes(trust, len(rows))
        return Response(out.tobytes(), media_type="application/octet-stream",
                        headers={"X-Point-Count": str(len(rows)), "X-Truncated": str(truncated).lower()})

    @get("/{map_name:str}/topics", summary="Topic labels of a map, every level (0 = coarsest)")
    async def topics(
        self, pool: Pool, map_name: Annotated[str, Parameter(pattern=MAP_NAME)],
        level: Annotated[int | None, Parameter(ge=0, le=10)] = None,
    ) -> list[dict]:
        meta = await require_map(pool, map_name)
        return await fetch_all(
            pool,
            "select level, topic, parent, label, label_source, terms, x, y, size, radius from map_topics "
            "where map_id = %s and (%s::int is null or level = %s) order by level, size desc",
            (meta["id"], level, level),
        )

    @get("/{map_name:str}/trust", summary="Local trustworthiness of the map and of its topics (mean, share below "
         "0.3), least trustworthy first: for the web map's trust colouring")
    async def trust(
        self, pool: Pool, map_name: Annotated[str, Parameter(pattern=MAP_NAME)],
        level: Annotated[int | None, Parameter(ge=0, le=10, description="one topic level; all when left out")] = None,
    ) -> dict:
        meta = await require_map(pool, map_name)
        return {"map": map_name, "level": level, **await map_trust(pool, meta["id"], level)}

    @get("/{map_name:str}/footprint", summary="A query's footprint: best and mean similarity per cell over every "
         "paper of the map (binary grid, base64), and the topics it covers most; q2/paper2 to compare")
    async def footprint(
        self, pool: Pool, models: Models,
        map_name: Annotated[str, Parameter(pattern=MAP_NAME)],
        z: Annotated[int, Parameter(ge=0, le=9, description="cells are the quadtree tiles of this level")] = 5,
        q: Annotated[str | None, Parameter(max_length=1000, description="free text")] = None,
        paper: Annotated[str | None, Parameter(max_length=64, description="or an arXiv id")] = None,
        q2: Annotated[str | None, Parameter(max_length=1000, description="second query (difference)")] = None,
        paper2: Annotated[str | None, Parameter(max_length=64)] = None,
        threshold: Annotated[float, Parameter(ge=-1, le=1, description="topics: similarity counted as covered")]
            = DEFAULT_THRESHOLD,
        topic_level: Annotated[int, Parameter(ge=0, le=10)] = 0,
    ) -> dict:
        if bool(q and q.strip()) == bool(paper):
            raise ApiError(status_code=400, detail="give exactly one of q=<text> or paper=<arxiv id>")
        if q2 and paper2:
            raise ApiError(status_code=400, detail="give at most one of q2 and paper2")
        await require_map(pool, map_name)
        first = FootprintQuery(text=q.strip() if q else None, paper=paper)
        second = FootprintQuery(text=q2.strip(), paper=None) if q2 and q2.strip() else (
            FootprintQuery(paper=paper2) if paper2 else None)
        try:
            return await footprint(pool, models, map_name, z, first, second, threshold=threshold,
                                   topic_level=topic_level)
        except FootprintError as exc:
            raise ApiError(status_code=404 if (paper or paper2) else 400, detail=str(exc)) from None
        except ModelUnavailable as exc:
            raise ApiError(status_code=503, detail=f"the query embedder is unavailable: {exc}") from None

    @post("/{map_name:str}/footprint", status_code=200, summary="The footprint of a SQL layer: the centroid of the "
          "embeddings of the map's papers a read-only query returns, as GET .../footprint answers for q")
    async def layer_footprint(
        self, pool: Pool, models: Models, sql_panel: SqlPanel, settings: AppSettings,
        map_name: Annotated[str, Parameter(pattern=MAP_NAME)], data: JSONBody[LayerFootprintRequest],
    ) -> dict:
        runner = require_panel(sql_panel)
        if data.q2 and data.paper2:
            raise ApiError(status_code=400, detail="give at most one of q2 and paper2")
        meta = await require_map(pool, map_name)
        second = FootprintQuery(text=data.q2.strip()) if data.q2 and data.q2.strip() else (
            FootprintQuery(paper=data.paper2) if data.paper2 else None)
        try:
            first = await layer_centroid(pool, runner, meta["id"], data.sql, settings.sql_max_rows)
        except SqlQueryError as exc:
            raise refused(exc) from exc
        except FootprintError as exc:
            raise ApiError(status_code=400, detail=str(exc)) from None
        try:
            return await footprint(pool, models, map_name, data.z, first, second, threshold=data.threshold,
                                   topic_level=data.topic_level)
        except FootprintError as exc:
            raise ApiError(status_code=404, detail=str(exc)) from None
        except ModelUnavailable as exc:
            raise ApiError(status_code=503, detail=f"the query embedder is unavailable: {exc}") from None

    @get("/{map_name:str}/growth", summary="Papers per month in each tile of one level (binary), for the growth "
         "colouring", media_type="application/octet-stream")
    async def growth(self, request: Request, pool: Pool, map_name: Annotated[str, Parameter(pattern=MAP_NAME)],
                     ) -> Response[bytes]:
        meta = await require_map(pool, map_name)
        row = await fetch_one(pool, "select level, first_month, months, tiles, data from map_month_density "
                                    "where map_id = %s order by level desc limit 1", (meta["id"],))
        if row is None:
            raise ApiError(status_code=409, detail=f"map {map_name!r} has no month density yet (`atlas build`)")
        etag = hashlib.sha1(f"{map_name}/{meta['tiles_built_at'].isoformat()}/growth".encode(),
                            usedforsecurity=False).hexdigest()
        headers = {"ETag": f'"{etag}"', "Cache-Control": f"public, max-age={TILE_CACHE_SECONDS}"}
        if request.headers.get("if-none-match", "").strip() in (f'"{etag}"', f'W/"{etag}"'):
            return Response(b"", status_code=304, headers=headers)
        # 16-byte header (int32 level, first_month, months, tiles), then the records of etl/maps/growth.py
        header = np.array([row["level"], row["first_month"], row["months"], row["tiles"]], dtype="<i4").tobytes()
        return Response(header + bytes(row["data"]), media_type="application/octet-stream", headers=headers)
