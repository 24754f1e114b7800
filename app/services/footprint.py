"""A query's footprint on a map: what GET /api/maps/{map}/footprint answers.

The query is a free text (embedded like a semantic search), a paper (its own embedding) or a SQL
layer: the centroid of the embeddings of the map's papers that one read-only query of the SQL panel
returns (run by app/services/sql_runner.py as atlas_sql_runner, with its limits; POST
/api/maps/{map}/footprint). Over
every paper of the map the database computes, per cell of the quadtree level z, the best and the
mean cosine similarity, and the topics it covers most, in one scan (map_footprint_summary in
sql/idempotent/095-footprint.sql); a second query (`q2` / `paper2`) adds its
own best and mean per cell, so the client can draw the difference. The grid comes back binary,
base64 in the JSON answer, one little-endian record per non-empty cell (CELL below, 28 bytes):

    uint16 cell_x, uint16 cell_y, uint32 papers, float32 best, float32 mean, uint32 best_paper,
    float32 best_b, float32 mean_b   (NaN when there is no second query)

cell (cell_x, cell_y) covers x in [origin_x + cell_x * extent / 2^z, ...) as tiles of zoom z do.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
from pgvector import HalfVector

from app.core.pools import Database, fetch_all, fetch_one
from app.services.query_models import QueryModels
from app.services.sql_runner import SqlRunner, place_rows

CELL = np.dtype([("cell_x", "<u2"), ("cell_y", "<u2"), ("papers", "<u4"), ("best", "<f4"), ("mean", "<f4"),
                 ("best_paper", "<u4"), ("best_b", "<f4"), ("mean_b", "<f4")])
assert CELL.itemsize == 28
DEFAULT_THRESHOLD = 0.4
TOPICS_SHOWN = 10


@dataclass
class FootprintQuery:
    text: str | None = None
    paper: str | None = None
    sql: str | None = None  # a SQL layer; its centroid is resolved first (`layer_centroid`) into `vector`
    vector: HalfVector | None = None
    layer: dict[str, Any] | None = None  # for a SQL layer: its rows and the papers of the map it holds

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"q": self.text, "paper": self.paper}
        if self.sql is not None:
            described |= {"sql": self.sql, "layer": self.layer}
        return described


class FootprintError(ValueError):
    """The query names no paper with an embedding, or names nothing."""


async def layer_centroid(pool: Database, runner: SqlRunner, map_id: int, text: str, limit: int) -> FootprintQuery:
    """A SQL layer as a footprint query: the query runs as the SQL panel's (SqlQueryError when the database
    refuses it), its rows with an arxiv_id or a paper_id on the map are the layer, and the mean of their
    embeddings is the query vector."""
    result = await place_rows(pool, await runner.run(text, limit), map_id)
    if result.id_column is None:
        raise FootprintError("the query returns no arxiv_id or paper_id column: no papers to take the centroid of")
    keys = sorted({point["key"] for point in result.points})
    row = await fetch_one(
        pool,
        "select avg(embedding::vector)::halfvec as centroid, count(*) as papers from papers "
        "where id = any(%s::bigint[]) and embedding is not null",
        (keys,),
    )
    if row is None or row["centroid"] is None:
        raise FootprintError(f"none of the query's {len(result.rows)} rows is a paper of this map with an embedding")
    layer = {"rows": len(result.rows), "truncated": result.truncated, "papers": row["papers"]}
    return FootprintQuery(sql=text, vector=row["centroid"], layer=layer)


async def query_vector(pool: Database, models: QueryModels, query: FootprintQuery) -> HalfVector:
    if query.vector is not None:
        return query.vector
    if query.paper:
        row = await fetch_one(pool, "select embedding from papers where arxiv_id = %s", (query.paper,))
        if row is None or row["embedding"] is None:
            raise FootprintError(f"no paper {query.paper} with an embedding in this database")
        return row["embedding"]
    if query.text:
        return HalfVector(await models.embed(query.text))
    raise FootprintError("give q=<text> or paper=<arxiv id>")


async def footprint(
    pool: Database, models: QueryModels, map_name: str, z: int, first: FootprintQuery,
    second: FootprintQuery | None = None, *, threshold: float = DEFAULT_THRESHOLD, topic_level: int = 0,
) -> dict[str, Any]:
    vector = await query_vector(pool, models, first)
    other = await query_vector(pool, models, second) if second else None
    # One scan of every paper gives both the grid and the topics (map_footprint_summary).
    summary = await fetch_all(
        pool,
        "select kind, cell_x, cell_y, topic, label, papers, above, share, best, mean, best_paper, best_b, mean_b "
        "from map_footprint_summary(%s, %s, %s, %s, %s, %s)",
        (map_name, vector, z, other, threshold, topic_level),
    )
    rows = [r for r in summary if r["kind"] == "cell"]
    topics = [
        {"level": topic_level, "topic": r["topic"], "label": r["label"], "papers": r["papers"], "above": r["above"],
         "share": r["share"], "best": r["best"]}
        for r in summary if r["kind"] == "topic"
    ][:TOPICS_SHOWN]
    grid = np.zeros(len(rows), dtype=CELL)
    for field in ("cell_x", "cell_y", "papers", "best", "mean", "best_paper"):
        grid[field] = [r[field] for r in rows]
    for field in ("best_b", "mean_b"):
        grid[field] = [np.nan if r[field] is None else r[field] for r in rows]
    hottest = max(rows, key=lambda r: (r["best"], -r["best_paper"]), default=None)
    return {
        "map": map_name, "z": z, "query": first.describe(), "compare": second.describe() if second else None,
        "threshold": threshold, "cells": len(rows), "papers": int(grid["papers"].sum()),
        "record": "<u2 cell_x, <u2 cell_y, <u4 papers, <f4 best, <f4 mean, <u4 best_paper, <f4 best_b, <f4 mean_b",
        "record_bytes": CELL.itemsize,
        "best": None if hottest is None else {
            "cell_x": hottest["cell_x"], "cell_y": hottest["cell_y"], "paper": hottest["best_paper"],
            "similarity": hottest["best"]},
        "range": {"best": [float(grid["best"].min()), float(grid["best"].max())] if len(rows) else None,
                  "mean": [float(grid["mean"].min()), float(grid["mean"].max())] if len(rows) else None},
        "grid": base64.b64encode(grid.tobytes()).decode("ascii"),
        "topics": topics,
    }


def decode_grid(encoded: str) -> np.ndarray:
    """The grid of a footprint answer as a structured array (tests, scripts)."""
    return np.frombuffer(base64.b64decode(encoded), dtype=CELL)
