"""API latency per endpoint, p50/p95, with 1 and with 16 concurrent clients, over real HTTP.

    .venv/bin/python bench/api.py [--requests 200] [--no-write]

Runs `atlas serve` (uvicorn, one worker) on a free loopback port against the configured database
(DATABASE_URL, or the embedded server: `make demo` fills it with the 10k sample and its maps), then
sends the same mix of real requests sequentially (1 client) and from 16 concurrent clients.
"""

from __future__ import annotations

import argparse
import asyncio
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
from bench.report import table, write_section  # noqa: E402


def endpoints(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("select arxiv_id from papers order by md5(arxiv_id) limit 50")]
        titles = [r[0][:200] for r in conn.execute("select title from papers order by md5(title) limit 50")]
        tiles = conn.execute("select t.z, t.x, t.y from map_tiles t join maps m on m.id = t.map_id "
                             "where m.name = 'all' order by t.points desc limit 10").fetchall()
        x0, y0, x1, y1 = conn.execute("select x_min, y_min, x_max, y_max from maps where name = 'all'").fetchone()
    cx, cy, w = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 8
    return {
        "tile": [f"/api/maps/all/tiles/{z}/{x}/{y}" for z, x, y in tiles],
        "points (zoom 3 box)": [f"/api/maps/all/points?bbox={cx - w},{cy - w},{cx + w},{cy + w}&zoom=3"],
        "paper": [f"/api/papers/{i}" for i in ids],
        "neighbours": [f"/api/papers/{i}/neighbors?k=10&map=all" for i in ids],
        "search title": [f"/api/search?mode=title&q={t}" for t in titles],
        "search keyword": [f"/api/search?mode=keyword&q={t}" for t in titles],
        "search semantic": [f"/api/search?mode=semantic&q={t}" for t in titles],
        "search hybrid": [f"/api/search?mode=hybrid&q={t}" for t in titles],
        "search hybrid + rerank": [f"/api/search?mode=hybrid&rerank=true&q={t}" for t in titles],
    }


async def measure(base: str, urls: list[str], requests: int, clients: int) -> tuple[float, float, int]:
    times: list[float] = []
    errors = 0
    queue = [urls[i % len(urls)] for i in range(requests)]

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while queue:
            url = queue.pop()
            started = time.perf_counter()
            response = await client.get(base + url)
            times.append((time.perf_counter() - started) * 1000)
            errors += response.status_code >= 400

    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint and concurrency")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    url = database_url(settings)
    server, base = start_server()  # as atlas_api, like `atlas serve` (it refuses the owner's URL)
    try:
        rows = []
        for name, urls in endpoints(url).items():
            asyncio.run(measure(base, urls, 3, 1))  # warm up (loads the models once)
            count = args.requests if "rerank" not in name else max(20, args.requests // 10)
            p50, p95, errors = asyncio.run(measure(base, urls, count, 1))
            c50, c95, c_errors = asyncio.run(measure(base, urls, count, 16))
            rows.append([name, count, f"{p50:.1f}", f"{p95:.1f}", f"{c50:.1f}", f"{c95:.1f}", errors + c_errors])
            print(rows[-1], flush=True)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    body = table(["endpoint", "requests", "1 client p50 ms", "1 client p95 ms", "16 clients p50 ms",
                  "16 clients p95 ms", "errors"], rows)
    body += (
        "\n\nReading: one uvicorn worker on 2 cores, database on the same machine. Tiles are a primary-key "
        "read of a stored blob. Searches use 50 titles in turn, so repeated queries take their query vector "
        f"(and reranked order) from the API's LRU cache (ATLAS_QUERY_CACHE_SIZE = {settings.query_cache_size}); "
        "section search-latency times distinct questions with the cache off. Concurrent semantic and hybrid "
        "searches share one embedding call per batch (ATLAS_MODEL_BATCH_WINDOW_MS = "
        f"{settings.model_batch_window_ms:g}). Reranking scores up to ATLAS_RERANK_CANDIDATES "
        f"({settings.rerank_candidates}) pairs of up to ATLAS_RERANK_MAX_LENGTH ({settings.rerank_max_length}) "
        "tokens with the int8 ONNX cross-encoder, unless the first hit leads by the mode's skip margin."
    )
    print(body)
    if not args.no_write:
        write_section("API latency (10k sample)", body)


if __name__ == "__main__":
    main()
