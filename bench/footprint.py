"""Latency of a query's footprint (map_footprint_summary: sql/idempotent/095-footprint.sql).

    .venv/bin/python bench/footprint.py [--sample arxiv-100k | --database NAME] [--repeats 30] [--workers 2]

Loads the sample (with its embeddings) into a scratch database and lays its papers out on one map
by PCA: the footprint scans every point of the map whatever the layout, so UMAP's minutes buy
nothing here; its 16 stand-in topics are the 4 x 4 cells of quadtree level 2. Then, for
`--repeats` query vectors (papers' own embeddings, picked at random), times:

- map_footprint_summary (the grid and the topics in one scan, what GET /api/maps/{map}/footprint
  runs) at z = 4 and z = 6 (cells of the tiles of those zooms);
- the same with a second query (the difference layer);
- map_footprint_topics (the topics alone, a SQL user's call: the same scan);

and reports p50 / p90 in ms, with max_parallel_workers_per_gather = --workers.

The machine is shared: absolute latencies are written to docs/benchmarks.md only when the 1-minute
load average (`uptime`) is at most --max-load (1.0) both before and after the run; otherwise the
figures are printed, marked as taken under load, and nothing is written. "After" is read once the
run's own queries have stopped and their load has decayed (bench.report.settle); `--wait-quiet S`
waits up to S seconds after the untimed load for a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from app.core.connections import connect  # noqa: E402
from bench.make_scale import kept_database  # noqa: E402
from bench.report import load_average_text, settle, table, write_section  # noqa: E402
from bench.scratch_db import scratch_database  # noqa: E402
from etl.load import LoadOptions, embeddings_beside, load_sources  # noqa: E402
from etl.maps.levels import Quadtree  # noqa: E402
from etl.vectors import read_embeddings  # noqa: E402

DATA = Path(os.environ.get("ATLAS_SHARED_DATA", "/work/shared/data"))


def lay_out_by_pca(settings, name: str = "all") -> int:
    """One map of every paper with PCA coordinates; returns its paper count."""
    with connect(settings) as conn:
        ids, vectors = read_embeddings(conn, "true", {})
        centred = vectors.astype(np.float32) - vectors.mean(axis=0)
        _, _, vt = np.linalg.svd(centred[:: max(1, len(centred) // 20000)], full_matrices=False)
        coords = centred @ vt[:2].T
        quad = Quadtree.around(coords[:, 0], coords[:, 1])
        map_id = conn.execute(
            "insert into maps (name, title, origin_x, origin_y, extent, paper_count) values (%s, %s, %s, %s, %s, %s) "
            "returning id",
            (name, "PCA layout for bench/footprint.py", quad.origin_x, quad.origin_y, quad.extent, len(ids)),
        ).fetchone()[0]
        with conn.cursor().copy("copy map_points (map_id, paper_id, x, y) from stdin") as copy:
            for row in zip(ids.tolist(), coords[:, 0].tolist(), coords[:, 1].tolist(), strict=True):
                copy.write_row((map_id, *row))
        # Stand-in topics (the 4 x 4 cells of level 2), so that map_footprint_topics joins real rows.
        conn.execute(
            """
            with cells as (
                select mp.paper_id, least(greatest(floor((mp.x - %(ox)s) / %(e)s * 4)::int, 0), 3)
                                    + 4 * least(greatest(floor((mp.y - %(oy)s) / %(e)s * 4)::int, 0), 3) as topic
                  from map_points mp where mp.map_id = %(map)s
            )
            update map_points mp set topics = array[c.topic], embedding = p.embedding
              from cells c join papers p on p.id = c.paper_id
             where mp.map_id = %(map)s and mp.paper_id = c.paper_id
            """,
            {"ox": quad.origin_x, "oy": quad.origin_y, "e": quad.extent, "map": map_id},
        )
        conn.execute(
            "insert into map_topics (map_id, level, topic, label, x, y, size) "
            "select %s, 0, topics[1], 'cell ' || topics[1], avg(x), avg(y), count(*) from map_points "
            "where map_id = %s group by topics[1]",
            (map_id, map_id),
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("vacuum (analyze) map_points")
        conn.execute("vacuum (analyze) papers")
    return len(ids)


def measure(settings, repeats: int, workers: int, seed: int = 0) -> list[list[object]]:
    cases = {
        "map_footprint_summary z=4": "select count(*) from map_footprint_summary('all', %(q)s, 4)",
        "map_footprint_summary z=6": "select count(*) from map_footprint_summary('all', %(q)s, 6)",
        "map_footprint_summary z=6, two queries": "select count(*) from map_footprint_summary('all', %(q)s, 6, %(q2)s)",
        "map_footprint_topics": "select count(*) from map_footprint_topics('all', %(q)s, 0.5, 0)",
    }
    rows = []
    with connect(settings) as conn:
        conn.autocommit = True
        conn.execute(f"set max_parallel_workers_per_gather = {int(workers)}")
        keys = [k for (k,) in conn.execute("select id from papers where embedding is not null").fetchall()]
        rng = np.random.default_rng(seed)
        picks = rng.choice(keys, size=(repeats + 1, 2))
        vectors = {k: v for k, v in conn.execute(
            "select id, embedding from papers where id = any(%s)", (sorted({int(k) for k in picks.ravel()}),))}
        for label, statement in cases.items():
            times = []
            for i, (a, b) in enumerate(picks):
                started = time.perf_counter()
                conn.execute(statement, {"q": vectors[int(a)], "q2": vectors[int(b)]}).fetchall()
                if i:  # the first run warms the cache
                    times.append((time.perf_counter() - started) * 1000)
            times.sort()
            rows.append([label, f"{statistics.median(times):.0f}", f"{times[int(0.9 * (len(times) - 1))]:.0f}"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", default="arxiv-100k")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2, help="max_parallel_workers_per_gather")
    parser.add_argument("--max-load", type=float, default=1.0)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--database", metavar="NAME",
                        help="a database on the configured server with an all-papers map (bench/scale.py --keep "
                             "NAME: the 1.2M scale set), instead of loading --sample")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="after the (untimed) load, wait up to SECONDS for a load average <= --max-load")
    args = parser.parse_args()
    source = DATA / f"{args.sample}.jsonl.gz"
    with (nullcontext(kept_database(args.database)) if args.database else scratch_database()) as settings:
        if args.database:
            with connect(settings) as conn:
                papers = conn.execute("select count(*) from map_points mp join maps m on m.id = mp.map_id "
                                      "where m.name = 'all'").fetchone()[0]
            args.sample = args.database
        else:
            load_sources(settings, LoadOptions(sources=[source], embeddings=embeddings_beside(source),
                                               progress=False))
            papers = lay_out_by_pca(settings)
        if args.wait_quiet:  # the load's own work decays; another job's keeps the load up
            settle(args.max_load, args.wait_quiet)
        load_before = os.getloadavg()
        rows = measure(settings, args.repeats, args.workers)
        load_after = settle(args.max_load, 240)  # once this run's own queries have stopped
    quiet = max(load_before[0], load_after[0]) <= args.max_load
    header = ["query", "p50 ms", "p90 ms"]
    text = (f"{args.sample}: {papers:,} papers on one map, {args.repeats} query vectors, "
            f"max_parallel_workers_per_gather = {args.workers}. Load average {load_average_text(load_before)} "
            f"before, {load_average_text(load_after)} after.\n\n{table(header, rows)}\n")
    print(text)
    if not quiet:
        print(f"NOT WRITTEN: the load average exceeded {args.max_load} (the machine is busy); these latencies "
              "say more about the other work than about the footprint. Run again on a quiet machine.")
        return 2
    if not args.no_write:
        goal = "1.5 s at 1.2M" if papers > 1_000_000 else "300 ms at 100k"
        write_section(f"footprint ({args.sample})", text + f"\nGoal: p50 <= {goal} papers on 2 cores.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
