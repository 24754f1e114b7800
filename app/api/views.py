"""Saved views: POST /api/views stores what the web map shows (map, camera, filters, query, SQL, selection)
under the corpus snapshot, embedding space and projection it was made from; GET /api/views/{id} restores
it and says what changed since; /rerun lists the papers added and gone; /export downloads its papers as
CSV, BibTeX or Parquet with that provenance. The logic: app.services.views.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.params import JSONBody, KwargDefinition, Parameter, QueryParameter
from msgspec import Meta

from app.api.dependencies import Models, Pool, SqlPanel
from app.api.error_handlers import ApiError
from app.api.maps import MAP_NAME
from app.api.sql_panel import refused
from app.core.pools import fetch_all
from app.services.citations import to_bibtex_with_provenance, to_csv_with_provenance, to_parquet
from app.services.paper_search import MAX_QUERY_CHARS, SearchError
from app.services.query_models import ModelUnavailable
from app.services.sql_runner import MAX_SQL_CHARS, SqlQueryError
from app.services.views import MAX_VIEW_PAPERS, ViewError, load_view, provenance, rerun_view, save_view

VIEW_ID = r"^[0-9a-f]{20}$"
Coordinate = Annotated[float, Meta(ge=-1e9, le=1e9), KwargDefinition(ge=-1e9, le=1e9)]
ShortText = Annotated[str, Meta(max_length=40), KwargDefinition(max_length=40)]
DAY = r"^\d{4}-\d{2}-\d{2}$"
MODES = r"^(title|author|keyword|semantic|hybrid)$"
Day = Annotated[str, Meta(max_length=10, pattern=DAY), KwargDefinition(max_length=10, pattern=DAY)]


@dataclass
class Camera:
    x: Coordinate
    y: Coordinate
    zoom: Annotated[float, Meta(ge=-30, le=30), KwargDefinition(ge=-30, le=30)]


@dataclass
class Filters:
    category: Annotated[str, Meta(max_length=40, pattern=r"^[A-Za-z.-]+$"),
                        KwargDefinition(max_length=40, pattern=r"^[A-Za-z.-]+$")] | None = None
    date_from: Day | None = None
    date_to: Day | None = None
    color: ShortText | None = None


@dataclass
class Query:
    text: Annotated[str, Meta(min_length=1, max_length=MAX_QUERY_CHARS),
                    KwargDefinition(min_length=1, max_length=MAX_QUERY_CHARS)]
    mode: Annotated[str, Meta(pattern=MODES, max_length=8), KwargDefinition(pattern=MODES, max_length=8)] = "hybrid"


@dataclass
class ViewRequest:
    map: Annotated[str, Meta(pattern=MAP_NAME, max_length=63), KwargDefinition(pattern=MAP_NAME, max_length=63)]
    camera: Camera | None = None
    filters: Filters | None = None
    query: Query | None = None
    sql: Annotated[str, Meta(max_length=MAX_SQL_CHARS), KwargDefinition(max_length=MAX_SQL_CHARS)] | None = None
    selection: Annotated[
        list[Annotated[int, Meta(ge=1, le=2**63 - 1), KwargDefinition(ge=1, le=2**63 - 1)]],
        Meta(max_length=MAX_VIEW_PAPERS), KwargDefinition(max_items=MAX_VIEW_PAPERS),
    ] | None = None


class ExportFormat(StrEnum):
    csv = "csv"
    bibtex = "bibtex"
    parquet = "parquet"


MEDIA = {ExportFormat.csv: ("text/csv", "csv"), ExportFormat.bibtex: ("application/x-bibtex; charset=utf-8", "bib"),
         ExportFormat.parquet: ("application/vnd.apache.parquet", "parquet")}


def _state(data: ViewRequest) -> dict[str, Any]:
    state = asdict(data)
    if state.get("filters"):
        state["filters"] = {k: v for k, v in state["filters"].items() if v is not None} or None
    return state


async def _view(pool: Pool, view_id: str) -> dict[str, Any]:
    view = await load_view(pool, view_id)
    if view is None:
        raise ApiError(status_code=404, detail=f"no saved view {view_id!r}")
    return view


class ViewsController(Controller):
    path = "/api/views"
    tags = ["views"]

    @post("/", summary="Save what the map shows; answers its id (a hash of data, projection and state)",
          status_code=201)
    async def save(self, pool: Pool, models: Models, sql_panel: SqlPanel, data: JSONBody[ViewRequest]) -> dict:
        try:
            return await save_view(pool, models, sql_panel, _state(data))
        except SqlQueryError as exc:
            raise refused(exc) from exc
        except (ViewError, SearchError) as exc:
            raise ApiError(status_code=400, detail=str(exc)) from exc
        except ModelUnavailable as exc:
            raise ApiError(status_code=503, detail=str(exc)) from exc

    @get("/{view_id:str}", summary="A saved view: its state, and whether corpus, model or projection changed since")
    async def restore(self, pool: Pool, view_id: Annotated[str, Parameter(pattern=VIEW_ID, max_length=20)]) -> dict:
        view = await _view(pool, view_id)
        view.pop("arxiv_ids")
        return view

    @get("/{view_id:str}/rerun", summary="The view on the current corpus: the papers added and gone since")
    async def rerun(self, pool: Pool, models: Models, sql_panel: SqlPanel,
                    view_id: Annotated[str, Parameter(pattern=VIEW_ID, max_length=20)]) -> dict:
        view = await _view(pool, view_id)
        try:
            return {**await rerun_view(pool, models, sql_panel, view), "changed": view["changed"]}
        except SqlQueryError as exc:
            raise refused(exc) from exc
        except (ViewError, SearchError) as exc:
            raise ApiError(status_code=400, detail=str(exc)) from exc

    @get("/{view_id:str}/export", summary="The view's papers as CSV, BibTeX or Parquet, with their provenance",
         media_type="text/csv")
    async def export(self, pool: Pool, view_id: Annotated[str, Parameter(pattern=VIEW_ID, max_length=20)],
                     export_format: Annotated[ExportFormat, QueryParameter(name="format")] = ExportFormat.csv,
                     ) -> Response:
        view = await _view(pool, view_id)
        papers = await fetch_all(
            pool,
            "select arxiv_id, title, authors, main_category, categories, published, journal_ref, doi "
            "from papers where arxiv_id = any(%s::text[]) order by published, arxiv_id", (view["arxiv_ids"],))
        source = provenance(view)
        if export_format is ExportFormat.parquet:
            body: str | bytes = to_parquet(papers, source)
        elif export_format is ExportFormat.bibtex:
            body = to_bibtex_with_provenance(papers, source)
        else:
            body = to_csv_with_provenance(papers, source)
        media_type, suffix = MEDIA[export_format]
        return Response(body, media_type=media_type, headers={
            "Content-Disposition": f'attachment; filename="arxiv-atlas-view-{view_id}.{suffix}"',
            "X-Paper-Count": str(len(papers)), "X-Atlas-View": view_id,
            "X-Atlas-Snapshot": str(source["snapshot"]),
        })
