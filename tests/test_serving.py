"""Serving semantic search to many clients (issue 15, "Fast from the first query"): concurrent queries
share model calls (micro-batching), repeated queries come from a cache, and a flood of model work is
refused at once with 503 + Retry-After while tiles and paper details stay fast."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time

import httpx
import psycopg
import pytest
from browser import serve

from app.core.settings import Settings
from app.services.query_models import WARM_QUERY, MicroBatcher, ModelBusy, QueryModels

MODEL_SECONDS = 4.0
QUERIES = [
    "minimization of finite automata", "dark matter halo density profiles", "quantum error correcting codes",
    "graph neural networks for molecules", "black hole entropy and holography", "sparse matrix factorization",
    "random walks on groups", "superconductivity in cuprates", "neutrino oscillation experiments",
    "convex optimization duality", "topological insulators surface states", "language models for translation",
    "gravitational wave detection", "percolation on lattices", "elliptic curves over finite fields",
    "reinforcement learning for robots", "galaxy cluster mass estimates", "knot invariants and braids",
    "stochastic differential equations", "image segmentation networks",
]


# ---- the batcher alone --------------------------------------------------------------------------------
def test_micro_batcher_runs_concurrent_requests_in_fewer_calls_and_bounds_its_queue() -> None:
    calls: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        calls.append(items)
        time.sleep(0.05)  # a model call
        return [item.upper() for item in items]

    async def scenario() -> None:
        batcher: MicroBatcher[str, str] = MicroBatcher("test model", run, window_s=0.005, max_batch=64,
                                                       max_waiting=32)
        texts = [f"query {i}" for i in range(24)] + ["query 0"] * 6  # identical requests share a slot
        answers = await asyncio.gather(*(batcher.submit(t) for t in texts))
        assert answers == [t.upper() for t in texts]
        assert len(calls) < 24 and batcher.items == 24  # every distinct text sent once
        # a full queue refuses the next request at once
        small: MicroBatcher[str, str] = MicroBatcher("test model", run, window_s=0.005, max_batch=1, max_waiting=3)
        results = await asyncio.gather(*(small.submit(f"q{i}") for i in range(8)), return_exceptions=True)
        refused = [r for r in results if isinstance(r, ModelBusy)]
        assert len(refused) == 5 and small.refused == 5 and "ATLAS_MODEL_QUEUE_SIZE" in str(refused[0])
        assert [r for r in results if isinstance(r, str)] == ["Q0", "Q1", "Q2"]
        assert small.waiting == 0

    asyncio.run(scenario())


# ---- through the API ------------------------------------------------------------------------------------
def models_of(base: str) -> dict:
    return httpx.get(f"{base}/api/health", timeout=10).json()["models"]


async def search_all(base: str, params: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        return await asyncio.gather(*(client.get("/api/search", params=p) for p in params))


def test_concurrent_semantic_searches_are_batched_and_repeats_are_cached(loaded_10k: Settings) -> None:
    settings = dataclasses.replace(loaded_10k, model_batch_window_ms=20)
    with serve(settings) as base:
        first = httpx.get(f"{base}/api/search", params={"q": "warm up the embedder", "mode": "semantic"}, timeout=120)
        assert first.status_code == 200
        before = models_of(base)["embedder"]
        n = len(QUERIES)
        responses = asyncio.run(search_all(base, [{"q": q, "mode": "semantic", "top_n": 5} for q in QUERIES]))
        assert all(r.status_code == 200 and r.json()["hits"] for r in responses)
        after = models_of(base)["embedder"]
        calls = after["calls"] - before["calls"]
        assert after["items"] - before["items"] == n
        assert calls < n, f"{n} concurrent queries took {calls} model calls"

        # repeated queries: no model call, served from the cache of query vectors, same hits
        repeated = asyncio.run(search_all(base, [{"q": QUERIES[0], "mode": "semantic", "top_n": 5}] * 8))
        again = models_of(base)["embedder"]
        assert again["calls"] == after["calls"] and again["cache_hits"] - after["cache_hits"] == 8
        assert {tuple(h["arxiv_id"] for h in r.json()["hits"]) for r in repeated} == {
            tuple(h["arxiv_id"] for h in responses[0].json()["hits"])}

        # reranked orders are cached too: the cross-encoder scores a repeated query once
        for _ in range(3):
            reranked = httpx.get(f"{base}/api/search", params={"q": QUERIES[1], "mode": "semantic", "rerank": "true"},
                                 timeout=120)
            assert reranked.status_code == 200 and reranked.json()["rerank"] is True
        reranker = models_of(base)["reranker"]
        assert reranker["calls"] == 1 and reranker["cache_hits"] == 2


def test_a_flood_of_searches_is_refused_at_once_while_tiles_and_papers_stay_fast(
    mapped_10k: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dataclasses.replace(mapped_10k, model_queue_size=4, query_cache_size=0)
    # the embedder's real work plus a known delay: a served search takes at least MODEL_SECONDS, so
    # that "refused at once" can be told apart from "served" on a busy machine
    real_embed = QueryModels._embed_batch

    def slow_embed(self: QueryModels, texts: list[str]) -> list:
        vectors = real_embed(self, texts)
        if texts != [WARM_QUERY]:
            time.sleep(MODEL_SECONDS)
        return vectors

    monkeypatch.setattr(QueryModels, "_embed_batch", slow_embed)
    with psycopg.connect(mapped_10k.database_url) as conn:
        tiles = conn.execute("select t.z, t.x, t.y from map_tiles t join maps m on m.id = t.map_id "
                             "where m.name = 'all' order by t.z, t.x, t.y limit 10").fetchall()
        papers = [r[0] for r in conn.execute("select arxiv_id from papers order by id limit 10")]
    light = [f"/api/maps/all/tiles/{z}/{x}/{y}" for z, x, y in tiles] + [f"/api/papers/{a}" for a in papers]

    async def light_latencies(client: httpx.AsyncClient, rounds: int) -> list[float]:
        took = []
        for _ in range(rounds):
            for url in light:
                started = time.perf_counter()
                response = await client.get(url)
                took.append(time.perf_counter() - started)
                assert response.status_code == 200, (url, response.text)
        return took

    async def scenario(base: str) -> tuple[list[float], list[float], list[tuple[httpx.Response, float]]]:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            await client.get("/api/search", params={"q": "warm up", "mode": "semantic", "rerank": "true"})
            baseline = await light_latencies(client, 2)

            async def one(i: int) -> tuple[httpx.Response, float]:
                started = time.perf_counter()
                response = await client.get("/api/search", params={
                    "q": f"{QUERIES[i % len(QUERIES)]} variant {i}", "mode": "semantic", "rerank": "true",
                    "top_k": 50})
                return response, time.perf_counter() - started

            flood = asyncio.gather(*(one(i) for i in range(60)))
            await asyncio.sleep(0.05)
            during = await light_latencies(client, 2)
            return baseline, during, await flood

    with serve(settings) as base:
        baseline, during, flooded = asyncio.run(scenario(base))
    statuses = [r.status_code for r, _ in flooded]
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 1
    refused = [(r, t) for r, t in flooded if r.status_code == 503]
    assert refused, "a queue of 4 let 60 concurrent searches wait"
    assert all(r.headers["retry-after"] == "1" and "ATLAS_MODEL_QUEUE_SIZE" in r.json()["detail"] for r, _ in refused)
    served = [t for r, t in flooded if r.status_code == 200]
    # tiles and paper details stay fast meanwhile: compared with the baseline measured just before
    # (generous: 2 cores shared with other work)
    base_median, during_median = statistics.median(baseline), statistics.median(during)
    assert during_median < max(10 * base_median, base_median + 0.25), (base_median, during_median)
    # refused at once: a refusal waits for no model, so it takes far less than a served search
    refused_median = statistics.median(t for _, t in refused)
    assert min(served) >= MODEL_SECONDS and refused_median < 0.5 * MODEL_SECONDS, (refused_median, served)


def test_health_reports_each_model_state_when_models_load_on_first_use(loaded_10k: Settings) -> None:
    with serve(loaded_10k) as base:
        body = httpx.get(f"{base}/api/health", timeout=10).json()
        assert body["ready"] is True and body["status"] == "ok"
        assert {m["state"] for m in body["models"].values()} == {"idle"}
