"""The papers indexes on 2 cores: how many parallel maintenance workers, and is building the HNSW index
beside the others worth it?

    .venv/bin/python bench/index_builds.py [--database NAME] [--rows 100000] [--workers 0,1,2]
                                           [--concurrent-workers 0] [--rounds 2] [--no-write]

`atlas load` into an empty table rebuilds the secondary indexes of papers one after another (the HNSW
index first, then the GIN and B-tree indexes; etl/load.py), each with the server's
max_parallel_maintenance_workers (the leader builds too: N workers are N + 1 processes). This
measures, on a copy of the first --rows papers of a loaded database (a logged table, as papers is),
with the definitions of paper_index_definitions (the ones the load rebuilds):
- one after another, with each --workers setting: each index's build time and the sum;
- concurrently, with each --concurrent-workers setting: the HNSW index on one connection while the
  others build one after another on a second; the wall time of the two.
Each arm runs --rounds times, the arms interleaved (round 1 of every arm, then round 2, ...), so that
other work on the machine falls on all of them alike; the tables give the median of the rounds.
The copy (bench_index_papers) is dropped at the end. Section "index-builds" of docs/benchmarks.md;
written only from a quiet machine, since every arm is a timing (bench/report.py).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from app.core.connections import database_url  # noqa: E402
from app.core.settings import get_settings  # noqa: E402
from bench.report import load_average_text, settle, table, write_when_quiet  # noqa: E402

COPY = "bench_index_papers"
HNSW = "papers_embedding_hnsw"


def definitions(conn: psycopg.Connection) -> dict[str, str]:
    """name -> CREATE INDEX statement on the copy (names prefixed, table replaced)."""
    rows = conn.execute("select name, definition from paper_index_definitions order by name").fetchall()
    out = {}
    for name, definition in rows:
        statement = re.sub(r"\bON (public\.)?papers\b", f"ON public.{COPY}", definition, count=1)
        out[name] = statement.replace(f"INDEX {name} ", f"INDEX bench_{name} ", 1)
    return out


def drop_copies(conn: psycopg.Connection, names: list[str]) -> None:
    for name in names:
        conn.execute(f"drop index if exists bench_{name}")


def build(url: str, statements: list[tuple[str, str]], workers: int, times: dict[str, float]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"set max_parallel_maintenance_workers = {int(workers)}")
        for name, statement in statements:
            started = time.monotonic()
            conn.execute(statement)
            times[name] = time.monotonic() - started


def one_after_another(url: str, statements: dict[str, str], workers: int) -> dict[str, float]:
    times: dict[str, float] = {}
    build(url, [(HNSW, statements[HNSW])] + [(n, s) for n, s in statements.items() if n != HNSW], workers, times)
    return times


def side_by_side(url: str, statements: dict[str, str], workers: int) -> tuple[dict[str, float], float]:
    times: dict[str, float] = {}
    others = [(n, s) for n, s in statements.items() if n != HNSW]
    started = time.monotonic()
    threads = [threading.Thread(target=build, args=(url, [(HNSW, statements[HNSW])], workers, times)),
               threading.Thread(target=build, args=(url, others, workers, times))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, time.monotonic() - started


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a loaded database on the configured server (default: the configured one)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2",
                        help="max_parallel_maintenance_workers of the one-after-another arms")
    parser.add_argument("--concurrent-workers", default="0",
                        help="max_parallel_maintenance_workers of the side-by-side arms (empty: none)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    if args.database:
        from bench.make_scale import kept_database

        settings = kept_database(args.database)
    url = settings.database_url or database_url(settings)
    load_start = os.getloadavg()
    sequential: dict[int, list[dict[str, float]]] = {w: [] for w in _numbers(args.workers)}
    concurrent: dict[int, list[tuple[dict[str, float], float]]] = {w: [] for w in _numbers(args.concurrent_workers)}
    with psycopg.connect(url, autocommit=True) as conn:
        statements = definitions(conn)
        if HNSW not in statements:
            raise SystemExit("paper_index_definitions lists no HNSW index: run `atlas db upgrade`")
        conn.execute(f"drop table if exists {COPY}")
        conn.execute(f"create table {COPY} as select * from papers order by id limit %s", (args.rows,))
        conn.execute(f"vacuum analyze {COPY}")
        rows = conn.execute(f"select count(*) from {COPY}").fetchone()[0]
        memory = conn.execute("show maintenance_work_mem").fetchone()[0]
        try:
            for round_number in range(1, args.rounds + 1):
                for workers, runs in sequential.items():
                    runs.append(one_after_another(url, statements, workers))
                    drop_copies(conn, list(statements))
                    print(f"round {round_number}, one after another, {workers} workers: "
                          f"{sum(runs[-1].values()):.1f} s", flush=True)
                for workers, pairs in concurrent.items():
                    pairs.append(side_by_side(url, statements, workers))
                    drop_copies(conn, list(statements))
                    print(f"round {round_number}, side by side, {workers} workers: {pairs[-1][1]:.1f} s wall",
                          flush=True)
        finally:
            drop_copies(conn, list(statements))
            conn.execute(f"drop table if exists {COPY}")
    load_end = settle()

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.1f}"

    header = ["index"] + [f"one after another, {w} worker{'' if w == 1 else 's'} (s)" for w in sequential]
    header += [f"side by side, {w} worker{'' if w == 1 else 's'} (s)" for w in concurrent]
    lines = []
    for name in [HNSW] + [n for n in statements if n != HNSW]:
        line: list[object] = [name]
        line += [median([run[name] for run in runs]) for runs in sequential.values()]
        line += [median([run[name] for run, _ in pairs]) for pairs in concurrent.values()]
        lines.append(line)
    total: list[object] = ["**wall time** (rounds)"]
    total += [f"**{median([sum(r.values()) for r in runs])}** "
              f"({' / '.join(f'{sum(r.values()):.1f}' for r in runs)})" for runs in sequential.values()]
    total += [f"**{median([wall for _, wall in pairs])}** ({' / '.join(f'{wall:.1f}' for _, wall in pairs)})"
              for pairs in concurrent.values()]
    lines.append(total)
    body = (
        f"{rows:,} papers copied from the database into a logged table; the index definitions of "
        f"paper_index_definitions; maintenance_work_mem {memory}; {args.rounds} rounds, the arms interleaved, "
        f"medians. N workers = N parallel maintenance workers and the leader (N + 1 processes); the machine "
        f"has {os.cpu_count()} cores. Load average {load_average_text(load_start)} at the start, "
        f"{load_average_text(load_end)} at the end.\n\n" + table(header, lines)
    )
    print(body)
    if not args.no_write:
        write_when_quiet("index-builds", body, load_before=load_start)


if __name__ == "__main__":
    main()
