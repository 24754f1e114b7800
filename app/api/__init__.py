"""The Litestar app: thin routes over the SQL of sql/, plus query embedding, reranking and streaming.

    create_app(settings) -> Litestar      (`atlas serve` runs it under uvicorn)

OpenAPI at /schema; the built web map (frontend/dist) at /.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, MediaType, Response, get
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from app.api.ask import AskController
from app.api.dependencies import Models, Pool
from app.api.error_handlers import EXCEPTION_HANDLERS, document_errors
from app.api.export import ExportController
from app.api.maps import MapsController
from app.api.papers import PapersController
from app.api.place import PlaceController
from app.api.search import SearchController
from app.api.security import ModelRateLimit, SecurityHeaders
from app.api.sql import SqlController
from app.api.views import ViewsController
from app.core.pools import fetch_one, make_database, make_sql_runner_pool
from app.core.roles import settings_for_api, sql_runner_url
from app.core.settings import Settings, get_settings
from app.services.query_models import QueryModels
from app.services.sql_runner import SqlRunner

NO_FRONTEND = """<!doctype html><meta charset="utf-8"><title>Arxiv Atlas</title>
<h1>Arxiv Atlas API</h1><p>The web map is not built (frontend/dist). The API is at
<a href="/schema">/schema</a>; maps at <a href="/api/maps">/api/maps</a>.</p>"""


@get("/api/health", tags=["health"], summary="Whether the API reaches the database and its models are loaded")
async def health(pool: Pool, models: Models) -> Response[dict]:
    """200 when ready; 503 with Retry-After while the query models load (tiles and papers answer meanwhile).

    `models`: per model (embedder, reranker) its state (idle: loads on first use, loading, ready,
    unavailable with the reason), model calls, distinct items sent, cache hits, requests waiting and refused.
    """
    row = await fetch_one(pool, "select count(*) as maps from maps")
    ready = models.ready
    body = {"status": "ok" if ready else "loading", "ready": ready, "maps": row["maps"] if row else 0,
            "models": models.describe()}
    return Response(body, status_code=200 if ready else 503, headers=None if ready else {"Retry-After": "1"})


@get("/", media_type=MediaType.HTML, include_in_schema=False)
async def no_frontend() -> str:
    return NO_FRONTEND


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    # The SQL panel runs as atlas_sql_runner, never as a stronger role: off when its password is unknown.
    runner_url = sql_runner_url(settings) if settings.sql_panel_on else None
    # The API connects as atlas_api (read-only) when its password is known: app/roles.py.
    settings = settings_for_api(settings)
    pool = make_database(settings)
    models = QueryModels(settings)
    runner = SqlRunner(settings, make_sql_runner_pool(settings, runner_url)) if runner_url else None

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await pool.open(wait=False)
        if runner is not None:
            await runner.pool.open(wait=False)
        warming = None
        if settings.warm_models:  # in the background: the API answers tiles while the models load
            models.mark_loading()
            warming = asyncio.get_running_loop().create_task(models.warm())
        try:
            yield
        finally:
            if warming is not None:
                warming.cancel()
            if runner is not None:
                await runner.pool.close()
            await pool.close()

    frontend: Path = settings.frontend_dir
    routes: list = [health, MapsController, PapersController, SearchController, PlaceController, AskController,
                    ExportController, SqlController, ViewsController]
    if (frontend / "index.html").is_file():
        routes.append(create_static_files_router(path="/", directories=[frontend], html_mode=True,
                                                 include_in_schema=False))
    else:
        routes.append(no_frontend)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    middleware = [DefineMiddleware(SecurityHeaders, connect_origins=[])]
    if settings.api_rate_limit_per_minute > 0:
        middleware.append(DefineMiddleware(ModelRateLimit, per_minute=settings.api_rate_limit_per_minute))
    # The interactive pages load JavaScript from a CDN: off unless ATLAS_API_DOCS; the JSON always.
    render_plugins = [SwaggerRenderPlugin(), ScalarRenderPlugin()] if settings.api_docs else []
    app = Litestar(
        route_handlers=routes,
        dependencies={
            "pool": Provide(lambda: pool, sync_to_thread=False),
            "models": Provide(lambda: models, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "sql_panel": Provide(lambda: runner, sync_to_thread=False),
        },
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=CORSConfig(allow_origins=origins, allow_methods=["GET", "POST"]) if origins else None,
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024, exclude=["/api/maps/"]),
        openapi_config=OpenAPIConfig(title="Arxiv Atlas API", version="0.1.0", path="/schema",
                                     render_plugins=render_plugins or [JsonRenderPlugin()]),
        middleware=middleware,
        request_max_body_size=settings.api_max_body_bytes,
    )
    document_errors(app)
    return app
