"""Reproducible views of the web map: what a view showed, under which corpus, model and projection.

A view is its state (map, camera, filters, query, SQL, selection) plus what the database says about
the data behind it (`corpus_state()` of sql/idempotent/100-views.sql): the corpus snapshot id, the
embedding space id and the map's projection id. Its id is a hash of all of that, so the same view of the
same data always gets the same id, and a view saved after a load gets another. The papers the view
found (its selection, the rows of its SQL, the hits of its query) are kept with it: when the corpus has
changed since, `rerun_view` lists the papers added and gone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from app.core.errors import AtlasError
from app.core.pools import Database, fetch_all, fetch_one
from app.services.paper_search import Mode, SearchQuery, search_papers
from app.services.query_models import QueryModels
from app.services.sql_runner import SqlRunner

MAX_VIEW_PAPERS = 5000  # papers kept with a view (and exported)
STATE_KEYS = ("map", "camera", "filters", "query", "sql", "selection")


class ViewError(AtlasError):
    """A view that cannot be saved or restored as asked (no such map, SQL panel off, ...)."""


@dataclass(frozen=True)
class CorpusState:
    snapshot_id: int
    changed_at: Any
    space_id: str | None
    model: str | None
    projection_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "changed_at": self.changed_at, "space_id": self.space_id,
                "model": self.model, "projection_id": self.projection_id}


async def corpus_state(pool: Database, map_name: str) -> CorpusState:
    row = await fetch_one(pool, "select * from corpus_state(%s)", (map_name,))
    if row is None:
        raise ViewError("this database records no corpus snapshot (run `atlas db upgrade`)")
    return CorpusState(**row)


def canonical_state(state: dict[str, Any]) -> dict[str, Any]:
    """The state without empty parts, selection sorted: equal views give equal JSON."""
    clean = {key: state.get(key) for key in STATE_KEYS if state.get(key) not in (None, "", [], {})}
    if "selection" in clean:
        clean["selection"] = sorted(set(clean["selection"]))
    return clean


def view_id(state: dict[str, Any], corpus: CorpusState) -> str:
    """20 hex digits of sha256 over snapshot, space, projection and the canonical state."""
    payload = {"snapshot": corpus.snapshot_id, "space": corpus.space_id, "projection": corpus.projection_id,
               "state": state}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:20]


async def view_papers(pool: Database, models: QueryModels, runner: SqlRunner | None,
                      state: dict[str, Any]) -> list[str]:
    """The arXiv ids a view finds on the current corpus: its selection, else its SQL's rows, else its query's
    hits (the first MAX_VIEW_PAPERS); a view of the camera alone finds none."""
    if state.get("selection"):
        rows = await fetch_all(pool, "select arxiv_id from papers where id = any(%s::bigint[]) order by arxiv_id",
                               (state["selection"][:MAX_VIEW_PAPERS],))
        return [row["arxiv_id"] for row in rows]
    if state.get("sql"):
        if runner is None:
            raise ViewError("this view holds SQL and the SQL panel is off on this server")
        result = await runner.run(state["sql"], MAX_VIEW_PAPERS)
        names = [c["name"].lower() for c in result.columns]
        if "arxiv_id" in names:
            i = names.index("arxiv_id")
            return list(dict.fromkeys(str(row[i]) for row in result.rows if row[i] is not None))
        if "paper_id" in names:
            i = names.index("paper_id")
            keys = [row[i] for row in result.rows if isinstance(row[i], int)]
            rows = await fetch_all(pool, "select id, arxiv_id from papers where id = any(%s::bigint[])", (keys,))
            by_key = {row["id"]: row["arxiv_id"] for row in rows}
            return list(dict.fromkeys(by_key[k] for k in keys if k in by_key))
        return []
    query = state.get("query")
    if query and query.get("text"):
        filters = state.get("filters") or {}
        result = await search_papers(pool, models, SearchQuery(
            text=query["text"], mode=Mode(query.get("mode") or "hybrid"), top_k=200, top_n=200,
            category=filters.get("category")))
        return [hit["arxiv_id"] for hit in result.hits]
    return []


async def save_view(pool: Database, models: QueryModels, runner: SqlRunner | None,
                    state: dict[str, Any]) -> dict[str, Any]:
    """Store a view (idempotent: the same view of the same data is stored once) and answer its id."""
    state = canonical_state(state)
    corpus = await corpus_state(pool, state["map"])
    if corpus.projection_id is None:
        raise ViewError(f"no map named {state['map']!r}")
    identifier = view_id(state, corpus)
    papers = await view_papers(pool, models, runner, state)
    async with pool.write() as conn, conn.transaction():
        # The API's sessions are read-only by default; saving a view is its one write (saved_views only).
        await conn.execute("set transaction read write")
        await conn.execute(
            "insert into saved_views (id, map, state, snapshot_id, space_id, model, projection_id, arxiv_ids) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s) on conflict (id) do nothing",
            (identifier, state["map"], json.dumps(state), corpus.snapshot_id, corpus.space_id, corpus.model,
             corpus.projection_id, papers),
        )
    return {"id": identifier, "papers": len(papers), **corpus.as_dict()}


async def load_view(pool: Database, identifier: str) -> dict[str, Any] | None:
    """The saved view with what has changed since: {id, state, saved, current, changed}."""
    row = await fetch_one(pool, "select * from saved_views where id = %s", (identifier,))
    if row is None:
        return None
    current = await corpus_state(pool, row["map"])
    saved = {"snapshot_id": row["snapshot_id"], "space_id": row["space_id"], "model": row["model"],
             "projection_id": row["projection_id"], "created_at": row["created_at"], "papers": len(row["arxiv_ids"])}
    changed = {"corpus": current.snapshot_id != row["snapshot_id"], "space": current.space_id != row["space_id"],
               "projection": current.projection_id != row["projection_id"]}
    return {"id": row["id"], "state": row["state"], "saved": saved, "current": current.as_dict(),
            "changed": changed, "arxiv_ids": row["arxiv_ids"]}


async def rerun_view(pool: Database, models: QueryModels, runner: SqlRunner | None,
                     view: dict[str, Any]) -> dict[str, Any]:
    """The view's query, SQL or selection on the current corpus: the papers added and gone since it was saved."""
    now = await view_papers(pool, models, runner, view["state"])
    before = view["arxiv_ids"]
    added = [a for a in now if a not in set(before)]
    gone = [a for a in before if a not in set(now)]
    titles = {row["arxiv_id"]: row["title"] for row in await fetch_all(
        pool, "select arxiv_id, title from papers where arxiv_id = any(%s::text[])", (added + gone,))}
    return {"id": view["id"], "papers": len(now),
            "added": [{"arxiv_id": a, "title": titles.get(a)} for a in added],
            "gone": [{"arxiv_id": a, "title": titles.get(a)} for a in gone]}


def provenance(view: dict[str, Any]) -> dict[str, Any]:
    """What an export of the view says about where it comes from."""
    state = view["state"]
    query = state.get("query") or {}
    return {"view": view["id"], "map": state.get("map"), "snapshot": view["saved"]["snapshot_id"],
            "embedding_space": view["saved"]["space_id"], "model": view["saved"]["model"],
            "projection": view["saved"]["projection_id"], "query": query.get("text"),
            "mode": query.get("mode"), "sql": state.get("sql"),
            "selection": len(state.get("selection") or []) or None,
            "saved_at": view["saved"]["created_at"].isoformat() if view["saved"].get("created_at") else None,
            "exported_on_snapshot": view["current"]["snapshot_id"]}
