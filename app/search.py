"""Search and neighbours as a service: the SQL functions of sql/search.sql, plus query embedding.

The CLI (and later the API) call these; the ranking itself lives in SQL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pgvector import HalfVector

from app.database import connect
from app.settings import Settings

MODES = ("keyword", "semantic", "hybrid")
COLUMNS = "paper_id, arxiv_id, title, authors, main_category, published"


class SearchError(ValueError):
    """A search that cannot run (bad mode, bad k, no embedding space yet)."""


def similar_papers(settings: Settings, arxiv_id: str, k: int = 10) -> list[dict[str, Any]]:
    _check_k(k)
    with connect(settings) as conn:
        rows = conn.execute(
            f"select {COLUMNS}, similarity from similar_papers(%(arxiv_id)s, %(k)s)",
            {"arxiv_id": arxiv_id, "k": k},
        ).fetchall()
    return [_hit(row) for row in rows]


def search(
    settings: Settings, query: str, *, mode: str = "hybrid", k: int = 10, category: str | None = None
) -> list[dict[str, Any]]:
    if mode not in MODES:
        raise SearchError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    _check_k(k)
    if not query.strip():
        raise SearchError("the query is empty")
    params: dict[str, Any] = {"q": query, "k": k, "category": category}
    with connect(settings) as conn:
        if mode == "keyword":
            sql = f"select {COLUMNS}, rank from search_papers_by_text(%(q)s, %(k)s, %(category)s)"
        else:
            params["q_embedding"] = HalfVector(embed_query(settings, conn, query))
            if mode == "semantic":
                sql = f"select {COLUMNS}, similarity from search_papers_by_vector(%(q_embedding)s, %(k)s, %(category)s)"
            else:
                sql = (
                    f"select {COLUMNS}, score from search_papers_hybrid(%(q)s, %(q_embedding)s, %(k)s, "
                    "%(category)s)"
                )
        rows = conn.execute(sql, params).fetchall()
    return [_hit(row) for row in rows]


def embed_query(settings: Settings, conn: Any, text: str) -> np.ndarray:
    """Embed a query with the database's recorded model and projection (as the papers were)."""
    from etl.embedders import make_embedder
    from etl.space import read_space

    space = read_space(conn)
    if space is None:
        raise SearchError("this database has no embedding space yet: load papers with embeddings first")
    embedder = make_embedder(settings)
    space.require_model(embedder.model_name, embedder.dimensions)
    return space.project(embedder.embed([text]))[0]


def _check_k(k: int) -> None:
    if not 1 <= k <= 1000:
        raise SearchError(f"k must be between 1 and 1000, got {k}")


def _hit(row: tuple) -> dict[str, Any]:
    paper_id, arxiv_id, title, authors, main_category, published, score = row
    return {
        "paper_id": paper_id, "arxiv_id": arxiv_id, "title": title, "authors": authors,
        "main_category": main_category, "published": published, "score": float(score),
    }
