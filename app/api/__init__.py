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
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router

from app.api.ask import AskController
from app.api.dependencies import Models, Pool
from app.api.error_handlers import EXCEPTION_HANDLERS, document_errors
from app.api.export import ExportController
from app.api.maps import MapsController
from app.api.papers import PapersController
from app.api.place import PlaceController
from app.api.search import SearchController
from app.core.pools import fetch_one, make_database
from app.core.roles import settings_for_api
from app.core.settings import Settings, get_settings
from app.services.query_models import QueryModels

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
    # The API connects as atlas_api (read-only) when its password is known: app/roles.py.
    settings = settings_for_api(settings or get_settings())
    pool = make_database(settings)
    models = QueryModels(settings)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await pool.open(wait=False)
        warming = None
        if settings.warm_models:  # in the background: the API answers tiles while the models load
            models.mark_loading()
            warming = asyncio.get_running_loop().create_task(models.warm())
        try:
            yield
        finally:
            if warming is not None:
                warming.cancel()
            await pool.close()

    frontend: Path = settings.frontend_dir
    routes: list = [health, MapsController, PapersController, SearchController, PlaceController, AskController,
                    ExportController]
    if (frontend / "index.html").is_file():
        routes.append(create_static_files_router(path="/", directories=[frontend], html_mode=True,
                                                 include_in_schema=False))
    else:
        routes.append(no_frontend)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    app = Litestar(
        route_handlers=routes,
        dependencies={
            "pool": Provide(lambda: pool, sync_to_thread=False),
            "models": Provide(lambda: models, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False),
        },
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=CORSConfig(allow_origins=origins, allow_methods=["GET", "POST"]) if origins else None,
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024, exclude=["/api/maps/"]),
        openapi_config=OpenAPIConfig(title="Arxiv Atlas API", version="0.1.0", path="/schema"),
    )
    document_errors(app)
    return app
