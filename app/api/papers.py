"""Papers: details by arXiv id, neighbours with similarity, honest neighbours on a map (`.../explain`),
batches by key (for tooltips), categories."""

from __future__ import annotations

import re
from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter, PathParameter, QueryParameter

from app.api.dependencies import Models, Pool
from app.api.error_handlers import ApiError
from app.api.maps import MAP_NAME, require_map
from app.core.pools import Database, fetch_all, fetch_one
from app.services.explain import explain_paper

# new-style 0704.0001 / 1501.00001 (optionally vN), old-style math/0501001, math.AG/0501001
ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Za-z-]+)?/\d{7})(v\d+)?$")
MAX_KEYS = 500
# An id (at most 30 characters with a version) and "/neighbors": anything longer is refused unread.
ArxivIdPath = Annotated[str, PathParameter(max_length=64, description="an arXiv id such as 1706.03762 or math/0501001")]

PAPER_FIELDS = """
    p.id as key, p.arxiv_id, p.revision, p.title, p.abstract, p.authors, p.main_category,
    c.name as category_name, p.archive, p.categories, p.published, p.updated, p.journal_ref, p.doi,
    p.arxiv_comment as comment, p.report_no, p.license, p.acm_class, p.msc_class,
    'https://arxiv.org/abs/' || p.arxiv_id as url
"""


def arxiv_id_or_400(text: str) -> str:
    if not ARXIV_ID.match(text):
        raise ApiError(status_code=400, detail=f"{text!r} is not an arXiv id (such as 1706.03762 or math/0501001)")
    return re.sub(r"v\d+$", "", text)


async def paper_or_404(pool: Database, arxiv_id: str) -> dict:
    row = await fetch_one(
        pool,
        f"select {PAPER_FIELDS} from papers p left join arxiv_categories c on c.code = p.main_category "  # noqa: S608 - identifiers from this module's constants; values are bound parameters
        "where p.arxiv_id = %s",
        (arxiv_id,),
    )
    if row is None:
        raise ApiError(status_code=404, detail=f"no paper {arxiv_id} in this database")
    return row


async def neighbors_of(pool: Database, paper: dict, k: int, map_name: str | None) -> list[dict]:
    """Precomputed neighbours when the list is there and long enough, else a live HNSW search."""
    map_id = (await require_map(pool, map_name))["id"] if map_name else None
    rows = await fetch_all(
        pool,
        """
        select q.arxiv_id, q.id as key, q.title, q.authors, q.main_category, c.name as category_name,
               q.published, n.similarity, n.rank, mp.x, mp.y
          from paper_neighbors n
          join papers q on q.id = n.neighbor_id
          left join arxiv_categories c on c.code = q.main_category
          left join map_points mp on mp.map_id = %(map)s and mp.paper_id = q.id
         where n.paper_id = %(key)s and n.rank <= %(k)s
         order by n.rank
        """,
        {"key": paper["key"], "k": k, "map": map_id},
    )
    if len(rows) >= k:
        return rows
    return await fetch_all(
        pool,
        """
        select s.arxiv_id, s.paper_id as key, s.title, s.authors, s.main_category, c.name as category_name,
               s.published, s.similarity, row_number() over (order by s.similarity desc) as rank, mp.x, mp.y
          from similar_papers(%(arxiv_id)s, %(k)s) s
          left join arxiv_categories c on c.code = s.main_category
          left join map_points mp on mp.map_id = %(map)s and mp.paper_id = s.paper_id
         order by s.similarity desc
        """,
        {"arxiv_id": paper["arxiv_id"], "k": k, "map": map_id},
    )


class PapersController(Controller):
    path = "/api"
    tags = ["papers"]

    @get("/papers/{arxiv_id:path}", summary="A paper with every field; `.../neighbors` for its nearest papers; "
         "`.../explain?map=` for its nearest by embedding, on the map and reranked, with distortion flags")
    async def paper(
        self, pool: Pool, models: Models, arxiv_id: ArxivIdPath,
        k: Annotated[int, Parameter(ge=1, le=100, description="neighbours: how many")] = 10,
        map_name: Annotated[str | None, QueryParameter(name="map", pattern=MAP_NAME,
                                                  description="neighbours: coordinates on this map")] = None,
        rerank: Annotated[bool, Parameter(description="explain: rerank with the cross-encoder")] = True,
    ) -> dict | list[dict]:
        reference = arxiv_id.strip("/")
        if reference.endswith("/explain"):
            if map_name is None:
                raise ApiError(status_code=400, detail="explain needs ?map=<name>: the map whose 2-D picture to check")
            paper = await paper_or_404(pool, arxiv_id_or_400(reference.removesuffix("/explain")))
            await require_map(pool, map_name)
            try:
                explanation = await explain_paper(pool, models, map_name, paper["arxiv_id"], min(k, 50),
                                                  rerank=rerank)
            except LookupError as exc:
                raise ApiError(status_code=404, detail=str(exc)) from None
            return explanation.as_dict()
        if reference.endswith("/neighbors"):
            paper = await paper_or_404(pool, arxiv_id_or_400(reference.removesuffix("/neighbors")))
            return await neighbors_of(pool, paper, k, map_name)
        paper = await paper_or_404(pool, arxiv_id_or_400(reference))
        paper["maps"] = await fetch_all(
            pool,
            "select m.name as map, mp.x, mp.y, mp.level from map_points mp join maps m on m.id = mp.map_id "
            "where mp.paper_id = %s order by m.id",
            (paper["key"],),
        )
        return paper

    @get("/neighbors/{arxiv_id:path}", summary="The k nearest papers of a paper, with cosine similarity")
    async def neighbors(
        self, pool: Pool, arxiv_id: ArxivIdPath,
        k: Annotated[int, Parameter(ge=1, le=100)] = 10,
        map_name: Annotated[str | None, QueryParameter(name="map", pattern=MAP_NAME)] = None,
    ) -> list[dict]:
        paper = await paper_or_404(pool, arxiv_id_or_400(arxiv_id.strip("/")))
        return await neighbors_of(pool, paper, k, map_name)

    @get("/paper-keys", summary="Short records of papers by key (the `paper` field of tiles), for tooltips")
    async def by_keys(
        self, pool: Pool,
        keys: Annotated[str, Parameter(description="comma-separated paper keys", max_length=MAX_KEYS * 12)],
    ) -> list[dict]:
        try:
            ids = [int(k) for k in keys.split(",") if k.strip()]
        except ValueError:
            raise ApiError(status_code=400, detail="keys must be comma-separated integers") from None
        if not ids or len(ids) > MAX_KEYS or min(ids) < 1 or max(ids) >= 2**63:
            raise ApiError(status_code=400, detail=f"give 1 to {MAX_KEYS} positive keys")
        return await fetch_all(
            pool,
            """
            select p.id as key, p.arxiv_id, p.title, p.authors[1:3] as authors, cardinality(p.authors) as author_count,
                   p.main_category, c.name as category_name, p.published, p.journal_ref
              from papers p left join arxiv_categories c on c.code = p.main_category
             where p.id = any(%s) order by p.id
            """,
            (ids,),
        )

    @get("/categories", summary="Categories in use with long names and paper counts")
    async def categories(self, pool: Pool) -> list[dict]:
        return await fetch_all(
            pool,
            """
            select p.main_category as code, coalesce(c.name, p.main_category) as name, p.archive,
                   c.archive_name, c.group_name, count(*) as papers
              from papers p left join arxiv_categories c on c.code = p.main_category
             group by p.main_category, c.name, p.archive, c.archive_name, c.group_name
             order by papers desc, code
            """,
        )
