"""POST /api/place: where a free text (an abstract, an idea) would sit on a map, and its nearest papers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, post
from litestar.params import JSONBody, KwargDefinition
from msgspec import Meta
from pgvector import HalfVector

from app.api.dependencies import Models, Pool
from app.api.error_handlers import ApiError
from app.api.maps import MAP_NAME, require_map
from app.core.pools import fetch_all
from app.services.query_models import ModelUnavailable

MAX_TEXT_CHARS = 10_000


@dataclass
class PlaceRequest:
    # Bounded here (and so in the OpenAPI schema) before the handler reads them; the text is checked
    # again once its whitespace is folded.
    text: Annotated[str, Meta(max_length=2 * MAX_TEXT_CHARS), KwargDefinition(max_length=2 * MAX_TEXT_CHARS)]
    map: Annotated[str, Meta(pattern=MAP_NAME), KwargDefinition(pattern=MAP_NAME, max_length=63)] = "all"
    k: Annotated[int, Meta(ge=1, le=50), KwargDefinition(ge=1, le=50)] = 10


class PlaceController(Controller):
    path = "/api/place"
    tags = ["search"]

    @post("/", summary="Place a free text on a map: coordinates from its nearest papers, and those papers",
          status_code=200)
    async def place(self, pool: Pool, models: Models, data: JSONBody[PlaceRequest]) -> dict:
        text = " ".join(data.text.split())
        if not text:
            raise ApiError(status_code=400, detail="text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise ApiError(status_code=400, detail=f"text is longer than {MAX_TEXT_CHARS} characters")
        if not 1 <= data.k <= 50:
            raise ApiError(status_code=400, detail=f"k must be between 1 and 50, got {data.k}")
        await require_map(pool, data.map)
        try:
            vector = HalfVector(await models.embed(text))
        except ModelUnavailable as exc:
            raise ApiError(status_code=503, detail=str(exc)) from exc
        position = await fetch_all(pool, "select x, y from place_on_map(%s, %s, %s)", (data.map, vector, data.k))
        neighbors = await fetch_all(
            pool,
            """
            select p.arxiv_id, p.id as key, p.title, p.authors, p.main_category, c.name as category_name,
                   p.published, n.similarity, n.x, n.y
              from nearest_on_map(%s, %s, %s) n
              join papers p on p.id = n.paper_id
              left join arxiv_categories c on c.code = p.main_category
             order by n.similarity desc
            """,
            (data.map, vector, data.k),
        )
        if not position:
            raise ApiError(status_code=409, detail=f"map {data.map!r} has no points yet")
        return {"map": data.map, "x": position[0]["x"], "y": position[0]["y"], "neighbors": neighbors}
