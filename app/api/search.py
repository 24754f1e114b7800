"""GET /api/search: title, author, keyword, semantic and hybrid search, optionally reranked.

The ranking is SQL (sql/search.sql, sql/search_fields.sql); this adds the query vector, the
cross-encoder reranking, validation and the hits' coordinates on a map.

- top_k: candidates fetched from SQL; top_n: hits returned. With rerank, the first
  ATLAS_RERANK_CANDIDATES (default 8) candidates are rescored by the cross-encoder and lead the
  list; the latency budget (p50 <= 400 ms on 2 cores, docs/benchmarks.md) sets that count, not
  the client.
- threshold: hits scoring below it are dropped (the rerank score with rerank, else the search score).
"""

from __future__ import annotations

import time
from datetime import date
from enum import StrEnum
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, Parameter, QueryParameter
from pgvector import HalfVector

from app.api.database import Database, fetch_all
from app.api.dependencies import Models, Pool
from app.api.errors import ApiError
from app.api.maps import MAP_NAME, check_dates, require_map
from app.api.models import ModelUnavailable, QueryModels

MAX_QUERY_CHARS = 500


class Mode(StrEnum):
    title = "title"
    author = "author"
    keyword = "keyword"
    semantic = "semantic"
    hybrid = "hybrid"


FUNCTIONS = {
    Mode.title: ("search_papers_by_title(%(q)s, %(k)s, %(category)s, %(from)s, %(to)s)", "score"),
    Mode.author: ("search_papers_by_author(%(q)s, %(k)s, %(category)s, %(from)s, %(to)s)", "score"),
    Mode.keyword: ("search_papers_by_text(%(q)s, %(k)s, %(category)s, %(from)s, %(to)s)", "rank"),
    Mode.semantic: ("search_papers_by_vector(%(v)s, %(k)s, %(category)s, %(from)s, %(to)s)", "similarity"),
    Mode.hybrid: ("search_papers_hybrid(%(q)s, %(v)s, %(k)s, %(category)s, %(from)s, %(to)s)", "score"),
}


async def run_search(
    pool: Database, models: QueryModels, q: str, mode: Mode, k: int, category: str | None,
    date_from: date | None, date_to: date | None, map_id: int | None,
) -> list[dict]:
    params = {"q": q, "k": k, "category": category, "from": date_from, "to": date_to, "map": map_id, "v": None}
    if mode in (Mode.semantic, Mode.hybrid):
        try:
            params["v"] = HalfVector(await models.embed(q))
        except ModelUnavailable as exc:
            raise ApiError(status_code=503, detail=str(exc)) from exc
    function, score = FUNCTIONS[mode]
    return await fetch_all(
        pool,
        f"""
        select s.arxiv_id, s.paper_id as key, s.title, s.authors, s.main_category,
               c.name as category_name, s.published, s.{score}::float8 as score, p.abstract, p.journal_ref,
               mp.x, mp.y
          from {function} s
          join papers p on p.id = s.paper_id
          left join arxiv_categories c on c.code = s.main_category
          left join map_points mp on mp.map_id = %(map)s and mp.paper_id = s.paper_id
        """,
        params,
    )


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
        started = time.perf_counter()
        query = " ".join(q.split())
        if not query:
            raise ApiError(status_code=400, detail="the query is empty")
        check_dates(date_from, date_to)
        map_id = (await require_map(pool, map_name))["id"] if map_name else None
        hits = await run_search(pool, models, query, mode, top_k, category, date_from, date_to, map_id)
        reranked = False
        if rerank and hits:
            count = models.settings.rerank_candidates
            head = hits[:count]
            try:
                hits = await models.rerank(query, head, len(head)) + hits[count:]
            except ModelUnavailable as exc:
                raise ApiError(status_code=503, detail=f"reranking is unavailable: {exc}") from exc
            reranked = True
        if threshold is not None:
            key = "rerank_score" if reranked else "score"
            hits = [h for h in hits if h.get(key, float("-inf")) >= threshold]
        hits = hits[:top_n]
        for hit in hits:
            hit.pop("abstract", None)
        return {
            "query": query, "mode": mode.value, "rerank": reranked, "map": map_name, "count": len(hits),
            "took_ms": round((time.perf_counter() - started) * 1000, 1), "hits": hits,
        }
