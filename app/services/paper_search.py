"""Search and neighbours, one service for every interface (the `atlas` CLI and the API).

The ranking lives in SQL (sql/idempotent/040-search.sql); this adds the query vector (one query
embedder: app.services.query_models), the cross-encoder reranking, validation and the hits'
coordinates on a map. Callers pass the API's pool abstraction (app.core.pools.Database); the CLI
opens one for the duration of a command.

- top_k: candidates fetched from SQL; top_n: hits returned. With rerank, the first
  `settings.rerank_candidates` candidates are rescored by the cross-encoder and lead the list,
  ordered by the cross-encoder's rank fused with their search rank (`settings.rerank_fusion`);
  unless the first hit leads the second by `settings.rerank_skip_margin_<mode>` (its search score):
  then the search order is kept, the cross-encoder is not run, and `rerank_skipped` says why.
- threshold: hits scoring below it are dropped (the rerank score with rerank, else the search score).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from pgvector import HalfVector

from app.core.errors import AtlasError
from app.core.pools import Database, fetch_all, make_database
from app.core.reranker import fuse_ranks
from app.core.settings import Settings
from app.services.query_models import ModelUnavailable, QueryModels

T = TypeVar("T")
MAX_QUERY_CHARS = 500  # what the API accepts (a query is a phrase); the CLI and scripts may pass more
MAX_TEXT_CHARS = 20_000  # any caller: a paper's whole text still finds that paper
MAX_K = 1000


class SearchError(AtlasError, ValueError):
    """A search that cannot run as asked (empty query, k out of range)."""


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
    Mode.semantic: ("search_papers_semantic(%(q)s, %(v)s, %(k)s, %(category)s, %(from)s, %(to)s)", "similarity"),
    Mode.hybrid: ("search_papers_hybrid(%(q)s, %(v)s, %(k)s, %(category)s, %(from)s, %(to)s)", "score"),
}
HIT_COLUMNS = """s.arxiv_id, s.paper_id as key, s.title, s.authors, s.main_category,
               c.name as category_name, s.published, s.{score}::float8 as score, p.abstract, p.journal_ref,
               mp.x, mp.y"""


@dataclass(frozen=True)
class SearchQuery:
    text: str
    mode: Mode = Mode.hybrid
    top_k: int = 50
    top_n: int = 20
    rerank: bool = False
    threshold: float | None = None
    category: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    map_id: int | None = None


@dataclass
class SearchResult:
    query: str
    mode: Mode
    reranked: bool
    hits: list[dict[str, Any]]
    took_ms: float
    semantic: str | None = None  # "unavailable: <reason>" when hybrid ran as keyword search
    rerank_skipped: str | None = None  # why rerank=true kept the search order (a decisive first hit)


def normalise_query(text: str) -> str:
    query = " ".join(text.split())
    if not query:
        raise SearchError("the query is empty")
    if len(query) > MAX_TEXT_CHARS:
        raise SearchError(f"the query is longer than {MAX_TEXT_CHARS} characters")
    return query


def check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise SearchError(f"k must be between 1 and {MAX_K}, got {k}")


async def fetch_candidates(pool: Database, models: QueryModels, query: SearchQuery,
                           notes: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The SQL function's hits for one mode (no reranking), with each hit's abstract and map position.

    Hybrid search without a query embedder (another embedding space, a model that cannot load) runs
    as keyword search and says so in `notes["semantic"]`; semantic search raises ModelUnavailable.
    """
    check_k(query.top_k)
    params = {"q": query.text, "k": query.top_k, "category": query.category, "from": query.date_from,
              "to": query.date_to, "map": query.map_id, "v": None}
    mode = query.mode
    if mode in (Mode.semantic, Mode.hybrid):
        try:
            params["v"] = HalfVector(await models.embed(query.text))
        except ModelUnavailable as exc:
            if mode is Mode.semantic:
                raise
            mode = Mode.keyword
            if notes is not None:
                notes["semantic"] = f"unavailable: {exc}"
    function, score = FUNCTIONS[mode]
    return await fetch_all(
        pool,
        f"""
        select {HIT_COLUMNS.format(score=score)}
          from {function} s
          join papers p on p.id = s.paper_id
          left join arxiv_categories c on c.code = s.main_category
          left join map_points mp on mp.map_id = %(map)s and mp.paper_id = s.paper_id
        """,  # noqa: S608 - identifiers from this module's constants; values are bound parameters
        params,
    )


async def search_papers(pool: Database, models: QueryModels, query: SearchQuery) -> SearchResult:
    """Every mode, filters and reranking: what `GET /api/search` and `atlas search` answer."""
    started = time.perf_counter()
    query = replace(query, text=normalise_query(query.text))
    notes: dict[str, str] = {}
    hits = await fetch_candidates(pool, models, query, notes)
    reranked = False
    skipped = decisive_lead(hits, skip_margin(models.settings, query.mode, notes)) if query.rerank else None
    if query.rerank and hits and skipped is None:
        count = models.settings.rerank_candidates
        head = hits[:count]
        scored = await models.rerank(query.text, head, len(head))
        hits = fuse_with_search_rank(head, scored, models.settings.rerank_fusion) + hits[count:]
        reranked = True
    if query.threshold is not None:
        key = "rerank_score" if reranked else "score"
        hits = [h for h in hits if h.get(key, float("-inf")) >= query.threshold]
    return SearchResult(query=query.text, mode=query.mode, reranked=reranked, hits=hits[: query.top_n],
                        took_ms=round((time.perf_counter() - started) * 1000, 1), semantic=notes.get("semantic"),
                        rerank_skipped=skipped)


def skip_margin(settings: Settings, mode: Mode, notes: dict[str, str]) -> float:
    """The lead of the first hit over the second that makes reranking this mode's hits pointless
    (settings.rerank_skip_margin_*; inf for title and author search, and for a hybrid search that ran
    as keyword search, whose scores are ranks)."""
    if mode is Mode.hybrid and "semantic" in notes:
        mode = Mode.keyword
    return {Mode.semantic: settings.rerank_skip_margin_semantic, Mode.hybrid: settings.rerank_skip_margin_hybrid,
            Mode.keyword: settings.rerank_skip_margin_keyword}.get(mode, math.inf)


def decisive_lead(hits: list[dict[str, Any]], margin: float) -> str | None:
    """Why the search order is kept without running the cross-encoder, or None to rerank: the first
    hit's search score leads the second's by at least `margin` (docs/benchmarks.md, section
    "search-rerank-skip": on the tune half such queries lose nothing to the reranked order)."""
    if len(hits) < 2 or not math.isfinite(margin):
        return None
    lead = hits[0]["score"] - hits[1]["score"]
    if lead < margin:
        return None
    return f"the first hit leads the second by {lead:.3f} (at least {margin:g}): the search order is kept"


def fuse_with_search_rank(head: list[dict[str, Any]], scored: list[dict[str, Any]], fusion: float
                          ) -> list[dict[str, Any]]:
    """The reranked hits ordered by their cross-encoder rank fused with their rank in the search
    (app.core.reranker.fuse_ranks; fusion 0 keeps the cross-encoder's order). `head`: the hits in
    search order; `scored`: the same hits with `rerank_score`, in any order."""
    by_key = {hit["key"]: hit for hit in scored}
    if len(by_key) != len(head) or any(hit["key"] not in by_key for hit in head):
        return scored  # not the same hits (a reranker that dropped some): its own order
    order = fuse_ranks([by_key[hit["key"]]["rerank_score"] for hit in head], fusion)
    return [by_key[head[i]["key"]] for i in order]


async def similar_papers(pool: Database, arxiv_id: str, k: int = 10) -> list[dict[str, Any]]:
    """The k papers most similar to one paper (itself excluded), by cosine similarity of the vectors."""
    check_k(k)
    return await fetch_all(
        pool,
        "select s.arxiv_id, s.paper_id as key, s.title, s.authors, s.main_category, s.published, "
        "s.similarity::float8 as score from similar_papers(%(arxiv_id)s, %(k)s) s",
        {"arxiv_id": arxiv_id, "k": k},
    )


def run_once(settings: Settings, work: Callable[[Database, QueryModels], Awaitable[T]]) -> T:
    """Run one service call on a pool opened for it (the CLI and scripts; the API keeps its own)."""
    import asyncio

    async def run() -> T:
        pool = make_database(settings)
        await pool.open(wait=True)
        try:
            return await work(pool, QueryModels(settings))
        finally:
            await pool.close()

    return asyncio.run(run())


def search_once(settings: Settings, query: SearchQuery) -> SearchResult:
    """`search_papers` from synchronous code."""
    return run_once(settings, lambda pool, models: search_papers(pool, models, query))
