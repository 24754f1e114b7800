"""POST /api/sql: a read-only query of the web map's SQL panel, run as atlas_sql_runner, its rows as map
points; GET /api/sql/schema: what the panel can query (schema analytics) and whether it is on.

Thin: the bounds and the refusals are app.services.sql_runner's and the database's; here only the body's
limits (a text of at most 20,000 characters) and the answer's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import JSONBody, KwargDefinition
from msgspec import Meta

from app.api.dependencies import AppSettings, Pool, SqlPanel
from app.api.maps import MAP_NAME, require_map
from app.api.sql_panel import refused, require_panel
from app.services.sql_runner import MAX_SQL_CHARS, SqlQueryError, analytics_schema, place_rows

MAX_LIMIT = 100_000


@dataclass
class SqlRequest:
    sql: Annotated[str, Meta(min_length=1, max_length=MAX_SQL_CHARS, description="one read-only query"),
                   KwargDefinition(min_length=1, max_length=MAX_SQL_CHARS)]
    map: Annotated[str, Meta(pattern=MAP_NAME, max_length=63, description="the map whose points the rows become"),
                   KwargDefinition(pattern=MAP_NAME, max_length=63)] | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_LIMIT, description="most rows (capped by ATLAS_SQL_MAX_ROWS)"),
                     KwargDefinition(ge=1, le=MAX_LIMIT)] = 1000


class SqlController(Controller):
    path = "/api/sql"
    tags = ["sql"]

    @post("/", summary="Run one read-only query on schema analytics; rows with arxiv_id or paper_id as map points",
          status_code=200)
    async def run_sql(self, pool: Pool, sql_panel: SqlPanel, settings: AppSettings,
                      data: JSONBody[SqlRequest]) -> dict:
        runner = require_panel(sql_panel)
        map_row = await require_map(pool, data.map) if data.map else None
        try:
            result = await runner.run(data.sql, data.limit)
        except SqlQueryError as exc:
            raise refused(exc) from exc
        if map_row is not None:
            result = await place_rows(pool, result, map_row["id"])
        return {"sql": data.sql, "map": data.map, "limit": min(data.limit, settings.sql_max_rows),
                **result.as_dict()}

    @get("/schema", summary="Whether the SQL panel is on, and the views and functions it can use")
    async def schema(self, sql_panel: SqlPanel, settings: AppSettings) -> dict:
        if sql_panel is None:
            return {"enabled": False, "objects": [], "examples": []}
        from app.services.sql_examples import analyst_examples

        return {"enabled": True, "max_rows": settings.sql_max_rows,
                "timeout_ms": settings.sql_statement_timeout_ms,
                "objects": await analytics_schema(sql_panel), "examples": analyst_examples()}
