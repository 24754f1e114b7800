"""Building the papers indexes one after another, or the HNSW index beside the others: does it pay on 2 cores?

    .venv/bin/python bench/index_builds.py [--database NAME] [--rows 100000] [--no-write]

`atlas load` into an empty table rebuilds the secondary indexes of papers one after another (the HNSW
index first, then the GIN and B-tree indexes; etl/load.py). At 1.2M papers that is 627 s + 220 s of the
load (docs/benchmarks.md, "Scale: 1,200,000 papers on one machine"). This measures, on a copy of the
first --rows papers of a loaded database (a logged table, as papers is), with the definitions of
paper_index_definitions (the ones the load rebuilds):
- one after another: each index's build time and the sum;
- concurrently: the HNSW index on one connection while the others build one after another on a second;
  the wall time of the two, as a ratio to the sum above.
Each build runs with the server's maintenance_work_mem and max_parallel_maintenance_workers.
The copy (bench_index_papers) is dropped at the end. Section "index-builds" of docs/benchmarks.md;
written only from a quiet machine, since both arms are timings (bench/report.py).
"""

from __future__ import annotations

import argparse
import os
import re
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


def build(url: str, statements: list[tuple[str, str]], times: dict[str, float]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for name, statement in statements:
            started = time.monotonic()
            conn.execute(statement)
            times[name] = time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a loaded database on the configured server (default: the configured one)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    if args.database:
        from bench.make_scale import kept_database

        settings = kept_database(args.database)
    url = settings.database_url or database_url(settings)
    load_start = os.getloadavg()
    with psycopg.connect(url, autocommit=True) as conn:
        statements = definitions(conn)
        if HNSW not in statements:
            raise SystemExit("paper_index_definitions lists no HNSW index: run `atlas db upgrade`")
        conn.execute(f"drop table if exists {COPY}")
        conn.execute(f"create table {COPY} as select * from papers order by id limit %s", (args.rows,))
        conn.execute(f"vacuum analyze {COPY}")
        rows = conn.execute(f"select count(*) from {COPY}").fetchone()[0]
        settings_text = ", ".join(f"{k} {conn.execute(f'show {k}').fetchone()[0]}"
                                  for k in ("maintenance_work_mem", "max_parallel_maintenance_workers"))
        try:
            sequential: dict[str, float] = {}
            build(url, [(HNSW, statements[HNSW])] + [(n, s) for n, s in statements.items() if n != HNSW], sequential)
            drop_copies(conn, list(statements))
            concurrent: dict[str, float] = {}
            others = [(n, s) for n, s in statements.items() if n != HNSW]
            started = time.monotonic()
            threads = [threading.Thread(target=build, args=(url, [(HNSW, statements[HNSW])], concurrent)),
                       threading.Thread(target=build, args=(url, others, concurrent))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            concurrent_wall = time.monotonic() - started
        finally:
            drop_copies(conn, list(statements))
            conn.execute(f"drop table if exists {COPY}")
    load_end = settle()
    total = sum(sequential.values())
    others_total = sum(v for k, v in sequential.items() if k != HNSW)
    body = (
        f"{rows:,} papers copied from the database into a logged table; the index definitions of "
        f"paper_index_definitions; {settings_text}. Load average {load_average_text(load_start)} at the start, "
        f"{load_average_text(load_end)} at the end.\n\n"
        + table(["index", "alone, one after another (s)", "concurrently (s)"],
                [[n, f"{sequential[n]:.1f}", f"{concurrent[n]:.1f}"] for n in sequential])
        + f"\n\nOne after another: {total:.1f} s (HNSW {sequential[HNSW]:.1f} s, the others {others_total:.1f} s). "
        f"HNSW beside the others: {concurrent_wall:.1f} s wall, x{concurrent_wall / total:.2f} of one after another."
    )
    print(body)
    if not args.no_write:
        write_when_quiet("index-builds", body, load_before=load_start)


if __name__ == "__main__":
    main()
