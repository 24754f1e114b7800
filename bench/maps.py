"""Map build times, map quality and tile / viewport latency on a real sample.

    .venv/bin/python bench/maps.py [--sample arxiv-10k] [--sample arxiv-100k] [--no-write]

For each sample: load it (with embeddings) into a scratch database, run `atlas build` (maps of all
papers and of each archive with >= ATLAS_MAP_MIN_PAPERS papers, tiles, topics, paper_neighbors)
and report per step and per map:
- build times (projection, layout + tiles, topics; neighbour lists);
- trustworthiness@10 of each map (scikit-learn, cosine on the embeddings, 5,000 random papers);
- share of each paper's top-10 neighbours with the same primary archive, on the 2-D map and in
  paper_neighbors (the embedding space);
- latency of `map_tile` (one tile), the overview layer (every tile of levels 0-2) and
  `papers_in_view` (a box of a quarter of the map's width at zoom 3), as p50 over repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from sklearn.manifold import trustworthiness  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

from app.core.connections import connect  # noqa: E402
from bench.report import table, write_section  # noqa: E402
from bench.scratch_db import scratch_database  # noqa: E402
from etl.build import build_all  # noqa: E402
from etl.load import LoadOptions, embeddings_beside, load_sources  # noqa: E402
from etl.vectors import read_embeddings  # noqa: E402

QUALITY_SAMPLE = 5000


def p50_ms(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def map_quality(conn: psycopg.Connection, name: str, ids: np.ndarray, vectors: np.ndarray) -> tuple[float, float]:
    points = conn.execute(
        "select mp.paper_id, mp.x, mp.y, p.archive from map_points mp join maps m on m.id = mp.map_id "
        "join papers p on p.id = mp.paper_id where m.name = %s order by mp.paper_id", (name,)
    ).fetchall()
    paper_ids = np.array([r[0] for r in points])
    coords = np.array([(r[1], r[2]) for r in points])
    archives = np.array([r[3] for r in points])
    rows = np.searchsorted(ids, paper_ids)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(paper_ids), min(QUALITY_SAMPLE, len(paper_ids)), replace=False)
    trust = trustworthiness(vectors[rows[pick]], coords[pick], n_neighbors=10, metric="cosine")
    _, near = NearestNeighbors(n_neighbors=11).fit(coords).kneighbors(coords[pick])
    same = float((archives[near[:, 1:]] == archives[pick][:, None]).mean())
    return float(trust), same


def latency(conn: psycopg.Connection, name: str) -> tuple[float, float, float, int]:
    tiles = conn.execute(
        "select t.z, t.x, t.y from map_tiles t join maps m on m.id = t.map_id where m.name = %s "
        "order by t.points desc limit 1", (name,)
    ).fetchone()
    one = p50_ms(lambda: conn.execute("select map_tile(%s, %s, %s, %s)", (name, *tiles)).fetchone(), 50)
    overview = conn.execute(
        "select t.z, t.x, t.y from map_tiles t join maps m on m.id = t.map_id where m.name = %s and t.z <= 2",
        (name,),
    ).fetchall()

    def whole_overview() -> None:
        for tile in overview:
            conn.execute("select map_tile(%s, %s, %s, %s)", (name, *tile)).fetchone()

    layer = p50_ms(whole_overview, 20)
    x0, y0, x1, y1 = conn.execute(
        "select x_min, y_min, x_max, y_max from maps where name = %s", (name,)
    ).fetchone()
    cx, cy, w = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 8
    box = (name, cx - w, cy - w, cx + w, cy + w, 3)
    count = conn.execute("select count(*) from papers_in_view(%s, %s, %s, %s, %s, %s, 100000)", box).fetchone()[0]
    view = p50_ms(lambda: conn.execute("select * from papers_in_view(%s, %s, %s, %s, %s, %s, 100000)",
                                       box).fetchall(), 20)
    return one, layer, view, count


def bench_sample(sample: str) -> str:
    with scratch_database() as settings:
        source = settings.shared_data_dir / f"{sample}.jsonl.gz"
        loaded = load_sources(settings, LoadOptions([source], embeddings=embeddings_beside(source), progress=False))
        print(f"{sample}: {loaded.describe()}", flush=True)
        lines: list[str] = []
        reports = build_all(settings, echo=lambda line: (print(line, flush=True), lines.append(line)))
        with connect(settings) as conn:
            ids, vectors = read_embeddings(conn)
            maps = conn.execute(
                "select name, paper_count, projection, build_seconds, max_level, "
                "(select count(*) from map_tiles t where t.map_id = m.id), "
                "(select count(*) from map_topics t where t.map_id = m.id) from maps m order by paper_count desc"
            ).fetchall()
            embedding_same = conn.execute(
                "select avg((p.archive = q.archive)::int) from paper_neighbors n join papers p on p.id = n.paper_id "
                "join papers q on q.id = n.neighbor_id"
            ).fetchone()[0]
            rows = []
            for name, count, projection, seconds, max_level, tiles, topics in maps:
                trust, same = map_quality(conn, name, ids, vectors)
                one, layer, view, in_view = latency(conn, name)
                rows.append([
                    name, f"{count:,}", projection["method"], f"{projection.get('seconds', 0):.1f}",
                    f"{seconds:.1f}", f"0-{max_level} / {tiles}", topics, f"{trust:.3f}", f"{same:.2f}",
                    f"{one:.2f}", f"{layer:.2f}", f"{view:.1f} ({in_view:,} points)",
                ])
    steps = ", ".join(f"{r.step} {r.seconds:.1f} s" for r in reports)
    body = f"### {sample}\n\n`atlas build` after loading: {steps}.\n\n"
    body += table(
        ["map", "papers", "projection", "projection s", "map build s (all steps)", "levels / tiles", "topics",
         "trustworthiness@10", "same archive, 2-D top-10", "one tile p50 ms", "overview (levels 0-2) p50 ms",
         "papers_in_view zoom 3 p50 ms"],
        rows,
    )
    body += (f"\n\nShare of top-10 neighbours with the same primary archive in the embedding space "
             f"(paper_neighbors): {float(embedding_same):.2f}.\n")
    print(body, flush=True)
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", action="append", help="stem of a sample in ATLAS_SHARED_DATA (repeatable)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    samples = args.sample or ["arxiv-10k", "arxiv-100k"]
    bodies = [bench_sample(sample) for sample in samples]
    body = "\n".join(bodies) + (
        "\nReading: projection time is UMAP (numba; the first map of a process also pays its "
        "compilation) and grows a little faster than linearly; maps above ATLAS_MAP_FIT_SAMPLE are fitted on "
        "a sample and the rest placed from neighbours. Trustworthiness@10 measures how many of a paper's 2-D "
        "neighbours are true neighbours in the embedding (1.0 = none invented). A tile is one primary-key "
        "lookup of a bytea of at most 13 x ATLAS_TILE_POINTS bytes (format 2), so its latency does not grow "
        "with the map."
    )
    if not args.no_write:
        write_section("Maps: build, quality, tiles", body)


if __name__ == "__main__":
    main()
