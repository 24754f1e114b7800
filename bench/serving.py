"""Semantic search throughput with 16 clients: models one call at a time vs micro-batching + cache.

    .venv/bin/python bench/serving.py [--requests 400] [--clients 16] [--no-write]

Runs `atlas serve` twice on a free loopback port against the configured database (DATABASE_URL, or
the embedded server that `make demo` fills with the 10k sample), each time until /api/health says
ready (models warm):

- "one at a time": ATLAS_EMBED_BATCH_SIZE=1, ATLAS_MODEL_BATCH_WINDOW_MS=0, ATLAS_QUERY_CACHE_SIZE=0,
  which is how the API served queries before micro-batching (one model call per query, no cache);
- "batched + cache": the settings as configured (defaults: 3 ms window, batches up to
  ATLAS_EMBED_BATCH_SIZE, an LRU cache of ATLAS_QUERY_CACHE_SIZE query vectors).

Each serves `--requests` semantic searches from `--clients` concurrent clients: one repeated query,
and distinct queries (paper titles, each asked once per server). Figures are written to
docs/benchmarks.md only when the load average is at most 1.0 before and after (a shared machine
otherwise measures its neighbours); the ratio column compares the two servers side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from app.core.connections import database_url  # noqa: E402
from app.core.settings import get_settings  # noqa: E402
from bench.api_server import start_server  # noqa: E402
from bench.report import load_average_text, settle, table, write_section  # noqa: E402

QUIET_LOAD = 1.0
SERVERS = {
    "one at a time": {"ATLAS_EMBED_BATCH_SIZE": "1", "ATLAS_MODEL_BATCH_WINDOW_MS": "0",
                      "ATLAS_QUERY_CACHE_SIZE": "0", "ATLAS_MODEL_QUEUE_SIZE": "10000"},
    "batched + cache": {"ATLAS_MODEL_QUEUE_SIZE": "10000"},
}


async def run_clients(base: str, queries: list[str], clients: int) -> tuple[float, float, float, int]:
    """(requests per second, p50 ms, p95 ms, errors) for `queries` sent by `clients` concurrent clients."""
    pending = list(reversed(queries))
    times: list[float] = []
    errors = 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while pending:
            q = pending.pop()
            started = time.perf_counter()
            response = await client.get("/api/search", params={"q": q, "mode": "semantic", "top_n": 10})
            times.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200

    async with httpx.AsyncClient(base_url=base, timeout=120,
                                 limits=httpx.Limits(max_connections=clients + 4)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        seconds = time.perf_counter() - started
    times.sort()
    return len(queries) / seconds, statistics.median(times), times[int(0.95 * (len(times) - 1))], errors


def first_search(base: str, query: str, rerank: bool) -> float:
    """Milliseconds of one semantic search (reranked or not), as a client sees it."""
    started = time.perf_counter()
    response = httpx.get(base + "/api/search", params={"q": query, "mode": "semantic", "top_n": 10,
                                                      "rerank": str(rerank).lower()}, timeout=120)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="searches per workload and server")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    url = database_url(get_settings())
    with psycopg.connect(url) as conn:
        titles = [r[0][:200] for r in conn.execute(
            "select title from papers order by md5(arxiv_id) limit %s", (2 * args.requests + 10,))]
    load_before = os.getloadavg()
    results: dict[str, dict[str, tuple]] = {}
    firsts: dict[str, list[float]] = {}
    for offset, (name, env) in enumerate(SERVERS.items()):
        server, base = start_server(env=env)  # as atlas_api, like `atlas serve`
        try:
            # The first searches after /api/health said ready (issue 15: <= 500 ms): models warm already.
            firsts[name] = [first_search(base, titles[-1 - offset], rerank) for rerank in (False, True)]
            print(f"{name:16} first semantic search {firsts[name][0]:.0f} ms, first reranked "
                  f"{firsts[name][1]:.0f} ms", flush=True)
            asyncio.run(run_clients(base, titles[-10:], 2))  # connections and first calls
            workloads = {
                "repeated query": [titles[0]] * args.requests,
                # fresh titles for each server, so that neither finds them cached
                "distinct queries": titles[1 + offset * args.requests: 1 + (offset + 1) * args.requests],
            }
            results[name] = {}
            for workload, queries in workloads.items():
                results[name][workload] = asyncio.run(run_clients(base, queries, args.clients))
                rate, p50, p95, errors = results[name][workload]
                print(f"{name:16} {workload:17} {rate:7.1f} req/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                      f"errors {errors}", flush=True)
            models = httpx.get(base + "/api/health", timeout=10).json()["models"]["embedder"]
            print(f"{'':16} embedder: {models['calls']} model calls for {models['items']} texts, "
                  f"{models['cache_hits']} cache hits", flush=True)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    load_after = settle()  # once the servers have stopped: the run's own load decays, another job's stays
    rows = []
    for workload in ("repeated query", "distinct queries"):
        old, new = results["one at a time"][workload], results["batched + cache"][workload]
        rows.append([workload, f"{old[0]:.1f}", f"{new[0]:.1f}", f"{new[0] / old[0]:.1f}x",
                     f"{old[1]:.0f} / {new[1]:.0f}", f"{old[2]:.0f} / {new[2]:.0f}", old[3] + new[3]])
    body = table([f"workload ({args.clients} clients, {args.requests} semantic searches)",
                  "one at a time req/s", "batched + cache req/s", "ratio", "p50 ms (one / batched)",
                  "p95 ms (one / batched)", "errors"], rows)
    body += "\n\nThe first searches after `/api/health` said ready (a fresh server, models warmed at start):\n\n"
    body += table(["server", "first semantic search ms", "first semantic + rerank ms"],
                  [[name, f"{a:.0f}", f"{b:.0f}"] for name, (a, b) in firsts.items()])
    body += (f"\n\nLoad average before {load_average_text(load_before)}, after {load_average_text(load_after)}. "
             "One uvicorn worker; the query embedder is all-MiniLM-L6-v2 on the CPU. \"One at a time\" is the "
             "API before micro-batching (one model call per query, no cache), run in the same session.")
    print(body)
    quiet = max(load_before[0], load_after[0]) <= QUIET_LOAD
    if args.no_write:
        return
    if not quiet:
        print(f"not written: the load average was above {QUIET_LOAD} (before {load_average_text(load_before)}, "
              f"after {load_average_text(load_after)}); run again on a quiet machine")
        return
    write_section("Serving: semantic search throughput with 16 clients", body, load_before=load_before)


if __name__ == "__main__":
    main()
