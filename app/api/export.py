"""POST /api/export: a selection of papers (keys from tiles or viewport points) as CSV or BibTeX."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from litestar import Controller, Response, post
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation
from litestar.params import JSONBody, KwargDefinition
from msgspec import Meta

from app.api.dependencies import Pool
from app.api.error_handlers import ApiError
from app.core.pools import fetch_all
from app.services.citations import to_bibtex, to_csv

MAX_EXPORT_KEYS = 5000
# 5,000 keys of up to 19 digits, with separators: the export may exceed ATLAS_API_MAX_BODY_BYTES.
MAX_EXPORT_BODY_BYTES = MAX_EXPORT_KEYS * 21 + 1024


class ExportFormat(StrEnum):
    csv = "csv"
    bibtex = "bibtex"


@dataclass
class ExportRequest:
    keys: Annotated[list[Annotated[int, Meta(ge=1, le=2**63 - 1), KwargDefinition(ge=1, le=2**63 - 1)]],
                    Meta(max_length=MAX_EXPORT_KEYS), KwargDefinition(max_items=MAX_EXPORT_KEYS)]
    format: ExportFormat = ExportFormat.csv


# Litestar adds "; charset=utf-8" to text/* types itself.
MEDIA = {ExportFormat.csv: ("text/csv", "csv"),
         ExportFormat.bibtex: ("application/x-bibtex; charset=utf-8", "bib")}


@dataclass
class ExportOperation(Operation):
    """The OpenAPI operation of the export: its 200 answer is CSV or BibTeX, as `format` asks."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content:
            schema = next(iter(ok.content.values())).schema
            ok.content = {media.split(";")[0]: OpenAPIMediaType(schema=schema) for media, _ in MEDIA.values()}


class ExportController(Controller):
    path = "/api/export"
    tags = ["papers"]

    @post("/", summary="Papers by key as a CSV or BibTeX download (at most 5,000)", status_code=200,
          media_type="text/csv", operation_class=ExportOperation, request_max_body_size=MAX_EXPORT_BODY_BYTES)
    async def export(self, pool: Pool, data: JSONBody[ExportRequest]) -> Response[str]:
        keys = sorted(set(data.keys))
        if not keys or len(keys) > MAX_EXPORT_KEYS:
            raise ApiError(status_code=400, detail=f"give 1 to {MAX_EXPORT_KEYS} paper keys")
        if keys[0] < 1 or keys[-1] >= 2**63:
            raise ApiError(status_code=400, detail="paper keys are positive 64-bit integers")
        papers = await fetch_all(
            pool,
            "select arxiv_id, title, authors, main_category, categories, published, journal_ref, doi "
            "from papers where id = any(%s) order by published, arxiv_id",
            (keys,),
        )
        if not papers:
            raise ApiError(status_code=404, detail="none of these keys is a paper in this database")
        media_type, suffix = MEDIA[data.format]
        text = to_csv(papers) if data.format is ExportFormat.csv else to_bibtex(papers)
        return Response(text, media_type=media_type, headers={
            "Content-Disposition": f'attachment; filename="arxiv-atlas-selection.{suffix}"',
            "X-Paper-Count": str(len(papers)),
        })
