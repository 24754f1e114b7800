"""The API under load: many concurrent clients for a fixed time, mixed traffic, over real HTTP.

    .venv/bin/python bench/load_test.py [--clients 50] [--seconds 60] [--workers N] [--no-write]

Runs `atlas serve` on a free loopback port against the configured database (DATABASE_URL, or the
embedded server that `make demo` fills with the 10k sample and its maps), then `--clients` clients
each send requests back to back for `--seconds`: tiles, papers, neighbours and searches (title,
keyword, semantic, hybrid) in fixed shares, drawn from real ids, titles and tiles with a seeded
random generator. Bounded: loopback only, at most --max-requests requests, a 30 s timeout each.

Prints p50/p95/p99 per kind and overall, writes them to docs/benchmarks.md, and exits 1 when any
request failed (a status >= 400, a timeout or a broken connection): the promise is 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import psycopg  # noqa: E402

from app.core.connections import database_url  # noqa: E402
from app.core.settings import get_settings  # noqa: E402
from bench.api_server import start_server  # noqa: E402
from bench.report import table, write_section  # noqa: E402

# Shares of the traffic: what a map session does most (tiles, tooltips and paper pages), then search.
MIX = {
    "tile": 35, "paper": 20, "neighbours": 15, "search title": 10, "search keyword": 10,
    "search semantic": 5, "search hybrid": 5,
}
REQUEST_TIMEOUT_S = 30
CLIENT_KEEPALIVE_S = 2.0  # below uvicorn's timeout_keep_alive (5 s), as a proxy in front of it would be
MAX_CLIENTS = 200
MAX_SECONDS = 600


def request_pool(url: str) -> dict[str, list[str]]:
    """Real requests of each kind, from the database's papers, titles and tiles."""
    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("select arxiv_id from papers order by md5(arxiv_id) limit 500")]
        titles = [r[0][:120] for r in conn.execute("select title from papers order by md5(title) limit 500")]
        tiles = conn.execute("select m.name, t.z, t.x, t.y from map_tiles t join maps m on m.id = t.map_id "
                             "order by m.name, t.z, t.x, t.y").fetchall()
    if not ids or not tiles:
        raise SystemExit("the database has no papers or no maps: run `make demo` (or atlas load + atlas build)")
    return {
        "tile": [f"/api/maps/{name}/tiles/{z}/{x}/{y}" for name, z, x, y in tiles],
        "paper": [f"/api/papers/{i}" for i in ids],
        "neighbours": [f"/api/papers/{i}/neighbors?k=10&map=all" for i in ids],
        "search title": [f"/api/search?mode=title&top_n=20&q={quote(t)}" for t in titles],
        "search keyword": [f"/api/search?mode=keyword&top_n=20&q={quote(t)}" for t in titles],
        "search semantic": [f"/api/search?mode=semantic&top_n=20&q={quote(t)}" for t in titles],
        "search hybrid": [f"/api/search?mode=hybrid&top_n=20&q={quote(t)}" for t in titles],
    }


async def run_load(base: str, pool: dict[str, list[str]], clients: int, seconds: float, max_requests: int,
                   seed: int) -> tuple[dict[str, list[float]], dict[str, int], list[str]]:
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    samples: list[str] = []
    sent = 0
    deadline = time.monotonic() + seconds

    async def client(number: int, http: httpx.AsyncClient) -> None:
        nonlocal sent
        rng = random.Random(seed * 1000 + number)
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            kind = rng.choices(kinds, weights)[0]
            path = rng.choice(pool[kind])
            started = time.perf_counter()
            try:
                response = await http.get(base + path)
                failed = response.status_code >= 400
                detail = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                cause = exc.__cause__ or exc.__context__
                seconds = time.perf_counter() - started
                failed, detail = True, f"{type(exc).__name__}: {exc} ({cause!r}) after {seconds:.2f} s"
            times[kind].append((time.perf_counter() - started) * 1000)
            if failed:
                errors[kind] += 1
                if len(samples) < 10:
                    samples.append(f"{kind} {path}: {detail}")

    # Idle connections are dropped by the client before uvicorn's keep-alive timeout (5 s) closes them: a
    # request sent on a connection the server is closing at that moment fails with a ReadError (the HTTP/1.1
    # keep-alive race, which browsers cover by retrying, and proxies avoid with a shorter idle timeout).
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients,
                          keepalive_expiry=CLIENT_KEEPALIVE_S)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    return times, errors, samples


def percentiles(values: list[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(np.asarray(values), [50, 95, 99])
    return float(p50), float(p95), float(p99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=None, help="uvicorn workers (default ATLAS_API_WORKERS)")
    parser.add_argument("--max-requests", type=int, default=500_000, help="stop after this many requests")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--server-log", type=Path, help="write `atlas serve`'s output (access log) here")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.clients <= MAX_CLIENTS or not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--clients must be 1-{MAX_CLIENTS} and --seconds at most {MAX_SECONDS}")
    settings = get_settings()
    workers = args.workers or settings.api_workers
    pool = request_pool(database_url(settings))
    server, base = start_server(workers, args.server_log)
    try:
        # warm up: each worker loads the query embedder on its first semantic search
        asyncio.run(run_load(base, {k: v[:5] for k, v in pool.items()}, 4, 5, 200, args.seed))
        load_before = os.getloadavg()
        started = time.monotonic()
        times, errors, samples = asyncio.run(run_load(base, pool, args.clients, args.seconds, args.max_requests,
                                                      args.seed))
        elapsed = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    rows = []
    for kind in MIX:
        if times[kind]:
            rows.append([kind, len(times[kind]), *(f"{v:.1f}" for v in percentiles(times[kind])), errors[kind]])
    everything = [t for kind in MIX for t in times[kind]]
    total_errors = sum(errors.values())
    p50, p95, p99 = percentiles(everything)
    rows.append(["**all**", len(everything), f"**{p50:.1f}**", f"**{p95:.1f}**", f"**{p99:.1f}**",
                 f"**{total_errors}**"])
    body = table(["request", "requests", "p50 ms", "p95 ms", "p99 ms", "errors"], rows)
    body += (
        f"\n\n{args.clients} concurrent clients for {elapsed:.0f} s over loopback HTTP, "
        f"{len(everything) / elapsed:,.0f} requests/s; `atlas serve` with {workers} uvicorn worker(s), "
        f"ATLAS_API_POOL_SIZE={settings.api_pool_size} connections each, the database on the same machine; "
        f"traffic shares (%) {', '.join(f'{k} {v}' for k, v in MIX.items())}; "
        f"load average before the run {'/'.join(f'{v:.2f}' for v in load_before)}."
        "\n\nReading: an error is any status >= 400, timeout or broken connection; the run passes with 0. "
        "50 clients sending back to back keep the server saturated, so latency is queueing: p50 is about "
        "clients / throughput (Little's law), and throughput is what one worker's Python (routing, JSON, "
        "psycopg) and the database's share of 2 cores allow. One request alone takes milliseconds (section "
        "API latency). Semantic and hybrid searches also embed the query; concurrent ones share a batch. HTTP "
        "is parsed by httptools (a dependency, which uvicorn picks). The clients drop a connection idle for "
        f"{CLIENT_KEEPALIVE_S:g} s, before the server's 5 s keep-alive timeout: with both at 5 s (httpx's and "
        "uvicorn's defaults), a request could go out on a connection the server was closing and fail with a "
        "ReadError (the keep-alive race; a browser retries such a request)."
    )
    print(body)
    for sample in samples:
        print("error:", sample)
    if not args.no_write:
        write_section(f"API under load: {args.clients} clients, {args.seconds:.0f} s (10k sample)", body)
    return 1 if total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
