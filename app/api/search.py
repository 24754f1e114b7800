"""GET /api/search: title, author, keyword, semantic and hybrid search, optionally reranked.

A thin controller: validation of the parameters, then app.services.paper_search (the same service
as `atlas search`), whose errors become 400 (a bad query) or 503 (a model that cannot load; a model
whose queue is full: error_handlers.model_busy).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, Parameter, QueryParameter

from app.api.dependencies import Models, Pool
from app.api.error_handlers import ApiError
from app.api.maps import MAP_NAME, check_dates, require_map
from app.services.paper_search import MAX_QUERY_CHARS, Mode, SearchError, SearchQuery, search_papers
from app.services.query_models import ModelUnavailable


class SearchController(Controller):
    path = "/api/search"
    tags = ["search"]

    @get("/", summary="Search papers by title, author, keyword, meaning or both; optional reranking")
    async def search(
        self, pool: Pool, models: Models,
        q: Annotated[str, Parameter(min_length=1, max_length=MAX_QUERY_CHARS, description="the query")],
        mode: FromQuery[Mode] = Mode.hybrid,
        rerank: Annotated[bool, Parameter(description="rerank the candidates with the cross-encoder")] = False,
        top_k: Annotated[int, Parameter(ge=1, le=1000, description="candidates fetched")] = 50,
        top_n: Annotated[int, Parameter(ge=1, le=200, description="hits returned")] = 20,
        threshold: Annotated[float | None, Parameter(ge=-1e6, le=1e6, description="minimum score")] = None,
        category: Annotated[str | None, Parameter(max_length=40, pattern=r"^[A-Za-z.-]+$")] = None,
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
        map_name: Annotated[str | None, QueryParameter(name="map", pattern=MAP_NAME)] = None,
    ) -> dict:
        check_dates(date_from, date_to)
        map_id = (await require_map(pool, map_name))["id"] if map_name else None
        query = SearchQuery(text=q, mode=mode, top_k=top_k, top_n=top_n, rerank=rerank, threshold=threshold,
                            category=category, date_from=date_from, date_to=date_to, map_id=map_id)
        try:
            result = await search_papers(pool, models, query)
        except SearchError as exc:
            raise ApiError(status_code=400, detail=str(exc)) from exc
        except ModelUnavailable as exc:
            raise ApiError(status_code=503, detail=str(exc)) from exc
        for hit in result.hits:
            hit.pop("abstract", None)
        return {
            "query": result.query, "mode": result.mode.value, "rerank": result.reranked, "map": map_name,
            "count": len(result.hits), "took_ms": result.took_ms, "hits": result.hits,
            **({"semantic": result.semantic} if result.semantic else {}),
            **({"rerank_skipped": result.rerank_skipped} if result.rerank_skipped else {}),
        }
