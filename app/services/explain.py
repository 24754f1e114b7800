"""Honest neighbours: what GET /api/papers/{id}/explain answers for a paper on a map.

Three lists side by side, each paper with its rank in the others:

- embedding: the k nearest papers of the map by cosine similarity of the 256-d embeddings (exact);
- map: the k nearest on the map (2-D Euclidean distance of the coordinates);
- reranked: the embedding list reordered by the cross-encoder, reading the paper's `title. abstract`
  as the query (null, with `reranker_error`, when the model cannot be loaded).

Ranks are exact over the whole map (sql/idempotent/092-explain.sql), so "rank 412 on the map" is true.

The distortion rule (`distorted`): a pair is flagged "the map distorts this" when one order puts the
neighbour among the k nearest and the other puts it beyond DISTORTION_RANK_FACTOR * k:

- "close on the map, far in the embedding": map_rank <= k and embedding_rank > 5k;
- "close in the embedding, far on the map": embedding_rank <= k and map_rank > 5k.

Ranks rather than raw distances, because 2-D distances have no common scale with cosine similarity
and differ from map to map; 5k (50 for k = 10) keeps papers that are merely the next ring out unflagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.pools import Database, fetch_all, fetch_one
from app.services.query_models import ModelUnavailable, QueryModels

DISTORTION_RANK_FACTOR = 5
CLOSE_ON_MAP = "close on the map, far in the embedding"
CLOSE_IN_EMBEDDING = "close in the embedding, far on the map"


@dataclass
class Explanation:
    paper: dict[str, Any]
    map: str
    k: int
    embedding: list[dict[str, Any]]
    map_neighbors: list[dict[str, Any]]
    reranked: list[dict[str, Any]] | None
    reranker_error: str | None = None
    distortion_rule: str = field(default="")

    def as_dict(self) -> dict[str, Any]:
        return {
            "paper": self.paper, "map": self.map, "k": self.k,
            "embedding": self.embedding, "map_neighbors": self.map_neighbors, "reranked": self.reranked,
            "reranker_error": self.reranker_error, "distortion_rule": self.distortion_rule,
            "flagged": sum(1 for row in self.embedding + self.map_neighbors if row["distorted"]),
        }


def distortion(embedding_rank: int, map_rank: int, k: int) -> str | None:
    """The flag of a pair under the rule of this module's docstring, or None."""
    far = DISTORTION_RANK_FACTOR * k
    if map_rank <= k and embedding_rank > far:
        return CLOSE_ON_MAP
    if embedding_rank <= k and map_rank > far:
        return CLOSE_IN_EMBEDDING
    return None


NEIGHBORHOOD_SQL = """
select n.paper_id as key, q.arxiv_id, q.title, q.abstract, q.authors[1:3] as authors, q.main_category,
       q.published, n.similarity, n.distance, n.embedding_rank, n.map_rank
  from map_paper_neighborhood(%(map)s, %(arxiv_id)s, %(k)s) n
  join papers q on q.id = n.paper_id
"""


async def explain_paper(
    pool: Database, models: QueryModels, map_name: str, arxiv_id: str, k: int = 10, *, rerank: bool = True,
) -> Explanation:
    """The three lists for `arxiv_id` on `map_name` (raises psycopg errors the API turns into 404/400)."""
    paper = await fetch_one(
        pool,
        "select p.id as key, p.arxiv_id, p.title, p.abstract, mp.x, mp.y, mp.trust from papers p "
        "join map_points mp on mp.paper_id = p.id join maps m on m.id = mp.map_id "
        "where m.name = %s and p.arxiv_id = %s",
        (map_name, arxiv_id),
    )
    if paper is None:
        raise LookupError(f"paper {arxiv_id} is not on map {map_name!r}")
    rows = await fetch_all(pool, NEIGHBORHOOD_SQL, {"map": map_name, "arxiv_id": arxiv_id, "k": k})
    for row in rows:
        row["distortion"] = distortion(row["embedding_rank"], row["map_rank"], k)
        row["distorted"] = row["distortion"] is not None
    embedding = sorted((r for r in rows if r["embedding_rank"] <= k), key=lambda r: (r["embedding_rank"], r["key"]))
    on_map = sorted((r for r in rows if r["map_rank"] <= k), key=lambda r: (r["map_rank"], r["key"]))
    reranked: list[dict[str, Any]] | None = None
    error: str | None = None
    if rerank and embedding:
        query = f"{paper['title']}. {paper['abstract']}"
        try:
            scored = await models.rerank(query, embedding, top_n=len(embedding))
        except ModelUnavailable as exc:
            error = f"the cross-encoder could not be loaded: {exc}"
        else:
            reranked = [{**row, "rerank_rank": i} for i, row in enumerate(scored, start=1)]
            by_key = {row["key"]: row["rerank_rank"] for row in reranked}
            for row in rows:
                row["rerank_rank"] = by_key.get(row["key"])
    elif not rerank:
        error = "reranking not asked for (rerank=false)"
    for row in rows:
        row.setdefault("rerank_rank", None)
        row.pop("abstract", None)
    for row in reranked or []:
        row.pop("abstract", None)
    paper.pop("abstract", None)
    rule = (f"flagged when one order ranks the neighbour in the top {k} and the other beyond "
            f"{DISTORTION_RANK_FACTOR * k} (ranks exact over the map's papers)")
    return Explanation(paper, map_name, k, embedding, on_map, reranked, error, rule)
