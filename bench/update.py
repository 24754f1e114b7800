"""`atlas update` at scale: a day of new papers onto the scale set, each step timed, tiles served meanwhile.

    .venv/bin/python bench/update.py [--papers 1200000] [--new 2000] [--database NAME] [--prepare-only] [--no-write]

The scale set of papers + new rows is written by bench/make_scale.py (deterministic); its last `new`
rows (real titles and abstracts under new ids, vectors drawn around the real ones; real papers
outright below 99,742 rows) are held out as the day's papers. The base database (kept under
--database) holds the other rows, the all-papers map and every neighbour list; preparing it is not
timed. A rerun first takes the held-out papers out again and brings tiles and topics up to date
(`atlas build`), also untimed.

Timed: `atlas update` on the held-out file (a subprocess, the real CLI; its summary gives each step's
seconds) while this process asks the HTTP API (uvicorn, one worker, bench/api_server.py) for tiles of
the all-papers map back to back, one client: p50/p95 of those tiles before the update and while it runs.
Goals (issue 20): the whole update <= 60 s on 2 cores, p95 tile latency < 50 ms while it runs.
The section is written only from a quiet machine (bench/report.py).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from app.core.connections import connect, start_database  # noqa: E402
from app.core.settings import Settings, get_settings  # noqa: E402
from bench.make_scale import MODEL_SUFFIX, kept_database, scale_folder, write_scale_set  # noqa: E402
from bench.report import load_average_text, settle, table, write_when_quiet  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
STEP_LINE = re.compile(r"^  (\S+)\s+([0-9.]+) s  ")


def split_files(settings: Settings, papers: int, new: int) -> tuple[Path, Path, Path, Path, list[str]]:
    """(base source, base .npy, held-out source, held-out .npy, held-out ids) from the set of papers + new rows."""
    import json

    whole = write_scale_set(settings, papers + new)
    folder = scale_folder(settings)
    base = (folder / f"arxiv-base-{papers}.jsonl", folder / f"arxiv-base-{papers}.{MODEL_SUFFIX}.npy")
    held = (folder / f"arxiv-day-{papers}-{new}.jsonl", folder / f"arxiv-day-{papers}-{new}.{MODEL_SUFFIX}.npy")
    vectors = np.load(whole.embeddings, mmap_mode="r")
    with whole.source.open(encoding="utf-8") as stream:
        lines = stream.readlines()
    if not base[0].exists():
        base[0].write_text("".join(lines[:papers]), encoding="utf-8")
        np.save(base[1], np.ascontiguousarray(vectors[:papers]))
    held[0].write_text("".join(lines[papers:]), encoding="utf-8")
    np.save(held[1], np.ascontiguousarray(vectors[papers:]))
    return *base, *held, [json.loads(line)["arxiv_id"] for line in lines[papers:]]


def prepare(settings: Settings, base_source: Path, base_npy: Path, held_ids: list[str]) -> None:
    """The base database: the set without the day's papers, its all-papers map and neighbour lists (untimed)."""
    from etl.build import _tiles, _topics
    from etl.load import LoadOptions, load_sources
    from etl.maps.build import build_map
    from etl.maps.definitions import ALL_PAPERS, MapSpec
    from etl.neighbors import compute_neighbors

    with connect(settings) as conn:
        present = conn.execute("select count(*) from papers").fetchone()[0]
        has_map = conn.execute("select exists (select 1 from maps where name = 'all')").fetchone()[0]
    if present == 0:
        print(load_sources(settings, LoadOptions([base_source], embeddings=base_npy)).describe(), flush=True)
    if not has_map:
        print(build_map(settings, MapSpec(ALL_PAPERS, "All papers")).describe(), flush=True)
    with connect(settings) as conn:
        gone = conn.execute("delete from papers where arxiv_id = any(%s)", (held_ids,)).rowcount
        conn.commit()
    if gone:
        print(f"took the {gone} papers of an earlier run out again", flush=True)
    fill_neighbor_lists(settings)
    print(compute_neighbors(settings, progress=True).describe(), flush=True)
    # The delete marks the map stale: its tiles and topics whole again (not the other default maps of `atlas build`).
    print(f"tiles: {_tiles(settings)}; topics: {_topics(settings)}", flush=True)


def fill_neighbor_lists(settings: Settings, k: int = 10, ef_search: int = 64) -> None:
    """Every paper's list at once, in process, when most papers have none (untimed preparation).

    compute_neighbors does the same work one HNSW scan a paper in the server (its rate at 1.2M is in
    the scale section), and more a paper once some lists exist (it
    then also runs the reverse update, which a first build does not need). FAISS HNSW (M 16,
    efConstruction 64, efSearch 64: about the recall of the database's own index at its default, in
    the nearest-neighbour section) over the vectors as stored builds and searches the whole set in
    process, without a round trip a paper; the rows are the ones compute_neighbors writes: the k nearest
    other papers, rank 1 = nearest, similarity = cosine."""
    import faiss

    from bench.ann import faiss_hnsw, normalised
    from etl.vectors import read_embeddings

    with connect(settings) as conn:
        papers = conn.execute("select count(*) from papers where embedding is not null").fetchone()[0]
        listed = conn.execute("select count(distinct paper_id) from paper_neighbors").fetchone()[0]
        if papers < 1000 or listed > papers // 2:
            return
        started = time.monotonic()
        ids, stored = read_embeddings(conn)
        vectors = normalised(stored)
        index, _ = faiss_hnsw(vectors, 16, 64)  # the same graph as bench/ann.py's, on every core
        print(f"neighbour lists: FAISS graph of {len(ids):,} papers in {time.monotonic() - started:.0f} s", flush=True)
        conn.execute("truncate paper_neighbors")
        params = faiss.SearchParametersHNSW(efSearch=ef_search)
        with conn.cursor() as cursor, cursor.copy(
                "copy paper_neighbors (paper_id, rank, neighbor_id, similarity) from stdin") as copy:
            for start in range(0, len(ids), 50_000):
                sims, found = index.search(vectors[start:start + 50_000], k + 1, params=params)
                for row, (row_sims, row_found) in enumerate(zip(sims, found, strict=True)):
                    own = ids[start + row]
                    others = [(ids[j], float(v)) for j, v in zip(row_found, row_sims, strict=True)
                              if j >= 0 and ids[j] != own][:k]
                    for rank, (other, similarity) in enumerate(others, start=1):
                        copy.write_row((int(own), rank, int(other), similarity))
        conn.commit()
    print(f"neighbour lists: {len(ids):,} papers filled in process in {time.monotonic() - started:.0f} s", flush=True)


class TileProbe:
    """One client asking the API for tiles of the all-papers map back to back, in a thread."""

    def __init__(self, base_url: str, tiles: list[tuple[int, int, int]]) -> None:
        self.urls = [f"{base_url}/api/maps/all/tiles/{z}/{x}/{y}" for z, x, y in tiles]
        self.times: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    status = client.get(self.urls[i % len(self.urls)]).status_code
                except httpx.HTTPError:
                    status = 599
                self.times.append((time.perf_counter() - started) * 1000)
                self.errors += status >= 400
                i += 1

    def __enter__(self) -> TileProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def percentiles(self) -> tuple[float, float, int]:
        q = statistics.quantiles(self.times, n=20) if len(self.times) > 1 else [float("nan")] * 19
        return statistics.median(self.times) if self.times else float("nan"), q[18], len(self.times)


def run_update(settings: Settings, source: Path, npy: Path) -> tuple[float, list[list[str]], str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url or ""}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "app.cli", "update", str(source), "--embeddings", str(npy)],
                            cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    print(result.stdout, result.stderr, flush=True)
    if result.returncode != 0:
        raise SystemExit(f"atlas update failed ({result.returncode})")
    steps = [[m[1], f"{float(m[2]):.1f}"] for m in map(STEP_LINE.match, result.stdout.splitlines()) if m]
    summary = next((line for line in result.stdout.splitlines() if line.startswith("update:")), "")
    return seconds, steps, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=1_200_000, help="papers of the base database")
    parser.add_argument("--new", type=int, default=2000, help="held-out papers the update adds")
    parser.add_argument("--database", default=None, help="base database to create (or reuse) and keep")
    parser.add_argument("--probe-seconds", type=float, default=20, help="tile probing before the update")
    parser.add_argument("--prepare-only", action="store_true",
                        help="prepare the base database and stop (untimed; the timed run wants a quiet machine)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    base_settings = get_settings()
    start_database(base_settings)  # the embedded server, unless DATABASE_URL names another
    settings = kept_database(args.database or f"atlas_update_{args.papers}")
    base_source, base_npy, held_source, held_npy, held_ids = split_files(base_settings, args.papers, args.new)
    prepare(settings, base_source, base_npy, held_ids)
    if args.prepare_only:
        return

    from bench.api_server import start_server

    with connect(settings) as conn:
        tiles = conn.execute("select t.z, t.x, t.y from map_tiles t join maps m on m.id = t.map_id "
                             "where m.name = 'all' order by md5(t.z || '/' || t.x || '/' || t.y) limit 50").fetchall()
    from app.core.roles import api_database_url

    load_start = settle()  # the untimed preparation's own work (tiles, topics) decays first
    # as atlas_api, like `atlas serve` (which refuses to serve as the database's owner)
    server, base_url = start_server(database_url=api_database_url(settings), wait_seconds=180)
    try:
        with TileProbe(base_url, tiles) as idle:
            time.sleep(args.probe_seconds)
        with TileProbe(base_url, tiles) as busy:
            seconds, steps, summary = run_update(settings, held_source, held_npy)
    finally:
        server.terminate()
        server.wait(timeout=60)
    idle_p50, idle_p95, idle_n = idle.percentiles()
    busy_p50, busy_p95, busy_n = busy.percentiles()
    load_end = settle()  # once this run's own work has decayed (bench.report.settle)
    rows = [["tiles before the update", idle_n, f"{idle_p50:.1f}", f"{idle_p95:.1f}", idle.errors],
            ["tiles while `atlas update` runs", busy_n, f"{busy_p50:.1f}", f"{busy_p95:.1f}", busy.errors]]
    body = (
        f"{args.papers:,} papers of the scale set (bench/make_scale.py) with their all-papers map and neighbour "
        f"lists; `atlas update` adds the {args.new:,} held-out rows that follow them in the set. {summary}.\n\n"
        + table(["step", "seconds"], steps + [["whole command (with start-up)", f"{seconds:.1f}"]])
        + "\n\nTiles of the all-papers map through the HTTP API (uvicorn, one worker), one client back to back:\n\n"
        + table(["when", "requests", "p50 ms", "p95 ms", "errors"], rows)
        + f"\n\nGoals: the whole update <= 60 s: {'met' if seconds <= 60 else '**not met**'} ({seconds:.1f} s); "
        f"p95 tile latency < 50 ms while it runs: {'met' if busy_p95 < 50 else '**not met**'} ({busy_p95:.1f} ms). "
        f"While/before p95 ratio x{busy_p95 / idle_p95:.2f}."
    )
    print(body, flush=True)
    print(f"load average {load_average_text(load_start)} -> {load_average_text(load_end)}", flush=True)
    if not args.no_write:
        write_when_quiet(f"Update: {args.new:,} new papers onto {args.papers:,}", body, load_before=load_start)


if __name__ == "__main__":
    main()
