"""The whole pipeline at the seed's size, unattended: load, map, tiles, nearest neighbours, serving.

    .venv/bin/python bench/scale.py [--papers 1200000] [--keep NAME] [--skip load,map,ann,neighbours,api]
                                    [--neighbour-papers 100000] [--no-write]

Stages, each timed, with the peak memory of its Python process (each runs in a fresh process) and
of the PostgreSQL server (the sum of the proportional set sizes of its processes, sampled every
0.5 s), and the load average at its start and end, in this order:
1. load: the scale set of --papers papers (bench/make_scale.py; its files are reused when already
   written), then `atlas load` of it into an empty database (parse, COPY, merge, indexes with the
   HNSW index, ANALYZE), the normal path; and the COPY rate of the server alone;
2. map: the all-papers map (UMAP on ATLAS_MAP_FIT_SAMPLE papers, the rest placed from their
   neighbours, levels, tiles, topics), then one tile and the overview layer (tiles of levels 0-2)
   and the viewport query at zoom 3 (map_points_in_view, papers_in_view) through SQL;
3. ann: bench/ann.py on the loaded vectors (pgvector HNSW vs exact numpy vs FAISS HNSW);
4. neighbours: paper_neighbors rebuilt for the first --neighbour-papers papers (default 100,000; 0 =
   all), with the HNSW index and 2 connections, and the time all would take at that rate (the whole
   table at 1.2M would take most of the hour this benchmark has);
5. api: the HTTP API under uvicorn (one worker) with 1 and 16 clients, and the API process's
   memory before and after the search models load.
The database is a scratch one (a private embedded server, or a new database on DATABASE_URL)
dropped at the end, unless --keep NAME keeps it on the configured server; `--keep NAME --skip load`
runs the later stages on a database loaded before (their own docs section, "..., after the load").
Each stage's table is written to docs/benchmarks.md as soon as it is measured, so an interrupted
run keeps what it did. Goals of issue 7 are checked in a table of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import resource
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from app.core.settings import Settings, get_settings  # noqa: E402
from bench.report import load_average_text, maintenance_workers_text, table, write_when_quiet  # noqa: E402

SECTION = "Scale: {papers:,} papers on one machine"
STAGES = ("load", "map", "ann", "neighbours", "api")


# ---- memory ---------------------------------------------------------------------------------
def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _server_pids(postmaster: int) -> list[int]:
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return pids


class ServerMemory:
    """Peak PSS of a PostgreSQL server's processes, sampled in a thread while a stage runs."""

    def __init__(self, data_dir: Path | None) -> None:
        self.postmaster: int | None = None
        pid_file = data_dir / "pg" / "postmaster.pid" if data_dir else None
        if pid_file is not None and pid_file.exists():
            self.postmaster = int(pid_file.read_text().split()[0])

    @contextmanager
    def peak(self) -> Iterator[list[float]]:
        """Yields a list that holds the peak in GiB once the block ends (empty: not measurable)."""
        result: list[float] = []
        if self.postmaster is None:
            yield result
            return
        stop = threading.Event()
        peak = 0

        def sample() -> None:
            nonlocal peak
            while not stop.wait(0.5):
                peak = max(peak, sum(_pss_kib(p) for p in _server_pids(self.postmaster)))

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield result
        finally:
            stop.set()
            thread.join()
            result.append(peak / 1024 / 1024)


def _in_fresh_process(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run function(*args) in a new Python process; (its result, its peak RSS in GiB)."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measured, function, *args).result()


def _measured(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    result = function(*args)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


# ---- stages (top-level functions: they run in fresh processes) ------------------------------
def stage_load(settings: Settings, papers: int) -> dict[str, Any]:
    from bench.make_scale import load_scale_set, scale_files

    summary = load_scale_set(settings, scale_files(get_settings(), papers))
    with psycopg.connect(settings.database_url) as conn:
        sizes = conn.execute(
            "select pg_total_relation_size('papers'), pg_table_size('papers'), "
            "pg_relation_size('papers_embedding_hnsw'), pg_database_size(current_database())"
        ).fetchone()
        mwm = conn.execute("show maintenance_work_mem").fetchone()[0]
        workers = int(conn.execute("show max_parallel_maintenance_workers").fetchone()[0])
    return {"summary": summary, "sizes": sizes, "maintenance_work_mem": mwm, "maintenance_workers": workers,
            "copy_ingest": copy_ingest_rate(settings.database_url)}


def copy_ingest_rate(url: str, rows: int = 200_000) -> float:
    """Rows/s the server takes in by COPY (FORMAT BINARY) of staging rows already encoded: the COPY
    itself, without the loader's parsing and encoding in Python (papers' own rows, read back), into an
    UNLOGGED table as `atlas load` stages them."""
    from etl.load import PAPER_COLUMNS, STAGING_COLUMNS

    extra = {"ordinal": "p.id", "source_file": "'scale'::text", "source_line": "0", "dataset": "null::text",
             "umap_x": "null::real", "umap_y": "null::real"}
    select = ", ".join(extra.get(name, f"p.{name}") for name, _ in STAGING_COLUMNS)
    assert {name for name, _ in STAGING_COLUMNS} - set(extra) <= set(PAPER_COLUMNS)
    with psycopg.connect(url) as conn:
        conn.execute("create unlogged table copy_probe (" + ", ".join(f"{n} {k}" for n, k in STAGING_COLUMNS) + ")")
        chunks: list[bytes] = []
        query = f"copy (select {select} from papers p limit {int(rows)}) to stdout (format binary)"
        with conn.cursor().copy(query) as copy:
            chunks.extend(bytes(block) for block in copy)
        started = time.perf_counter()
        with conn.cursor().copy("copy copy_probe from stdin (format binary)") as copy:
            for block in chunks:
                copy.write(block)
        seconds = time.perf_counter() - started
        count = conn.execute("select count(*) from copy_probe").fetchone()[0]
        conn.rollback()
    return count / seconds


def stage_ann(settings: Settings, queries: int, sweep_papers: int, hnsw_build_s: float | None) -> tuple[str, dict]:
    from bench.ann import run_ann

    return run_ann(settings, queries, sweep_papers, hnsw_build_s)


def stage_map(settings: Settings) -> Any:
    from bench.make_scale import build_all_papers_map

    return build_all_papers_map(settings)


def stage_neighbours(settings: Settings, limit: int | None) -> tuple[Any, int, int]:
    """compute_neighbors for at most `limit` papers (None: all); (summary, ef_search, papers with embeddings)."""
    from etl.neighbors import compute_neighbors

    with psycopg.connect(settings.database_url) as conn:
        ef_search = int(conn.execute("select current_setting('hnsw.ef_search')").fetchone()[0])
        embedded = conn.execute("select count(*) from papers where embedding is not null").fetchone()[0]
    return compute_neighbors(settings, k=settings.neighbors_k, rebuild=True, limit=limit), ef_search, embedded


def _p50_ms(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def sql_serving(settings: Settings) -> tuple[list[list[str]], float, float]:
    """Tiles and the viewport query through SQL, one connection: rows of p50 / p95 ms, tile p50, overview p50."""
    rows = []
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        biggest = conn.execute("select z, x, y, points from map_tiles t join maps m on m.id = t.map_id "
                               "where m.name = 'all' order by points desc limit 1").fetchone()
        p50, p95 = _p50_ms(lambda: conn.execute("select map_tile('all', %s, %s, %s)", biggest[:3]).fetchone(), 200)
        tile_ms = p50
        rows.append([f"one tile (`map_tile`, the fullest: {biggest[3]:,} points, {12 * biggest[3] / 1024:.0f} KiB)",
                     f"{p50:.2f}", f"{p95:.2f}"])
        overview = conn.execute("select t.z, t.x, t.y, t.points from map_tiles t join maps m on m.id = t.map_id "
                                "where m.name = 'all' and t.z <= 2").fetchall()

        def whole_overview() -> None:
            for z, x, y, _ in overview:
                conn.execute("select map_tile('all', %s, %s, %s)", (z, x, y)).fetchone()

        p50, p95 = _p50_ms(whole_overview, 30)
        overview_ms = p50
        rows.append([f"overview layer: the {len(overview)} tiles of levels 0-2 "
                     f"({sum(t[3] for t in overview):,} points), one query each", f"{p50:.2f}", f"{p95:.2f}"])
        x0, y0, x1, y1 = conn.execute("select x_min, y_min, x_max, y_max from maps where name = 'all'").fetchone()
        cx, cy, w = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 8
        for function, filters, label in (
            ("map_points_in_view", "", ""),
            ("map_points_in_view", ", 'math'", ", archive math"),
            ("map_points_in_view", ", null, '2015-01-01', '2016-12-31'", ", 2015-2016"),
            ("papers_in_view", "", " (with arXiv id and title from papers)"),
        ):
            query = f"select * from {function}('all', %s, %s, %s, %s, 3, 100000{filters})"
            box = (cx - w, cy - w, cx + w, cy + w)
            count = len(conn.execute(query, box).fetchall())
            p50, p95 = _p50_ms(lambda q=query, b=box: conn.execute(q, b).fetchall(), 20)
            rows.append([f"viewport: `{function}` zoom 3, a box 1/4 of the map wide{label}: {count:,} points",
                         f"{p50:.1f}", f"{p95:.1f}"])
    return rows, tile_ms, overview_ms


def _rss_mib(pid: int) -> tuple[float, float]:
    status = {line.split(":")[0]: line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
              if line.startswith(("VmRSS", "VmHWM"))}
    return int(status["VmRSS"]) / 1024, int(status["VmHWM"]) / 1024


def api_serving(
    settings: Settings, requests: int,
) -> tuple[list[list[object]], dict[str, float], dict[str, float]]:
    """The HTTP API under uvicorn (one worker): p50/p95 per endpoint, 1 and 16 clients; its memory; and the
    unrounded 1-client p50 of each endpoint in ms (goals are judged on these numbers, not on the table's text)."""

    from app.core.roles import api_database_url
    from bench.api import endpoints, measure
    from bench.api_server import start_server

    # As atlas_api, like `atlas serve` (which refuses to serve as the database's owner); the models load on
    # first use here (not warmed before ready), so that the process's memory without them is measured.
    server, base = start_server(database_url=api_database_url(settings), wait_seconds=180,
                                env={"ATLAS_WARM_MODELS": "false"})
    memory: dict[str, float] = {}
    rows: list[list[object]] = []
    p50s: dict[str, float] = {}
    try:
        memory["started"] = _rss_mib(server.pid)[0]
        urls = endpoints(settings.database_url)
        urls.pop("search hybrid + rerank", None)  # its cost is the cross-encoder's (bench/rerank.py)
        order = [name for name in urls if "semantic" not in name and "hybrid" not in name]
        order += [name for name in urls if name not in order]
        for name in order:
            if name == order[len(order) - 2]:  # the first endpoint that loads the embedding model
                memory["without models"] = _rss_mib(server.pid)[1]
            asyncio.run(measure(base, urls[name], 3, 1))
            p50, p95, errors = asyncio.run(measure(base, urls[name], requests, 1))
            c50, c95, c_errors = asyncio.run(measure(base, urls[name], requests, 16))
            p50s[name] = p50
            rows.append([name, requests, f"{p50:.1f}", f"{p95:.1f}", f"{c50:.1f}", f"{c95:.1f}", errors + c_errors])
            print(rows[-1], flush=True)
        memory["with the embedding model"] = _rss_mib(server.pid)[1]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    return rows, memory, p50s


# ---- the run --------------------------------------------------------------------------------
@dataclasses.dataclass
class Report:
    """The docs section of this run, rewritten whole each time a stage adds to it.

    Every part is also kept in a state file ($ATLAS_DATA_DIR/bench/scale-<papers>.json, with the load
    average at the run's start). The run's own stages keep the load average above 1 while it goes on,
    so a stage's write is usually refused (bench/report.py); `finish` waits for the run's own load to
    decay (bench.report.settle) and writes the whole section once, and `--write-from-state` writes
    it from the state file (a run that was stopped, or whose end was not quiet)."""

    papers: int
    write: bool
    after_load: bool = False  # a run on a database loaded earlier gets a section of its own
    parts: dict[str, str] = dataclasses.field(default_factory=dict)
    load_start: tuple[float, float, float] = dataclasses.field(default_factory=os.getloadavg)
    command: str = dataclasses.field(default_factory=lambda: " ".join(sys.argv))

    @property
    def name(self) -> str:
        return SECTION.format(papers=self.papers) + (", after the load" if self.after_load else "")

    def state_path(self) -> Path:
        return get_settings().data_dir / "bench" / f"scale-{self.papers}{'-after-load' if self.after_load else ''}.json"

    def set(self, key: str, text: str) -> None:
        self.parts[key] = text.strip()
        print(text, flush=True)
        path = self.state_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"parts": self.parts, "load_start": self.load_start, "command": self.command}))
        if self.write:
            self._write(patience_s=0)  # between stages: no waiting for the load to decay

    def finish(self) -> None:
        if self.write:
            self._write()  # waits for the run's own load to decay (bench/report.py write_section)

    def _write(self, patience_s: float = 240) -> None:  # on a busy machine its figures stay in the state file
        write_when_quiet(self.name, "\n\n".join(self.parts.values()) + "\n\n" + READING, load_before=self.load_start,
                         patience_s=patience_s)

    @classmethod
    def from_state(cls, papers: int, after_load: bool) -> Report:
        report = cls(papers, True, after_load)
        state = json.loads(report.state_path().read_text())
        report.parts, report.load_start = state["parts"], tuple(state["load_start"])
        report.parts["written"] = (f"Measured by `{state['command']}`; this section was written from its state "
                                   "file by `--write-from-state` once the machine was quiet.")
        return report


READING = """Reading (what limits each figure):
- Load: one Python process parses the JSON lines and psycopg encodes each row for COPY (FORMAT
  BINARY; the two text[] columns in pure Python); the rows a second the loader hands over and the
  rows a second the server alone takes in (the same rows, already encoded, into the UNLOGGED staging
  table) are both in the load table above.
- The full-text vectors (the English tsvector of every title, author list and abstract) are one
  parallel query over the staging table, the leader and 2 workers on
  the 2 cores; the merge is then one INSERT ... SELECT by one backend: heap, unique index and WAL.
- The HNSW build is CPU-bound in pgvector (distance computations while inserting each vector into
  the graph), shared by the leader and the parallel maintenance workers of the load table (one
  process a core: section "index-builds" compares 1 and 2 workers on 2 cores); the graph of 1.2M
  halfvec(256) fits maintenance_work_mem (2GB). The GIN indexes (full text, trigram, title words,
  author keys) follow one after the other, each built in parallel the same way.
- So the load is CPU-bound throughout: the sum of the CPU seconds of its parts, over 2 cores, is
  its floor. The HNSW build alone is about half of it (FAISS, in process, builds the same graph
  faster: see the nearest-neighbour section), and the full-text work (the vectors and three GIN
  indexes) is most of the rest.
- Exact search reads every vector for every query (memory bandwidth, linear in the corpus); both
  HNSW indexes visit a few thousand vectors a query whatever the corpus size.
- The map is UMAP's fit on the sample (numba, grows with the sample, not the map) plus a
  nearest-neighbour query per other paper; tiles are numpy sorts.
- Neighbour lists are one HNSW scan per paper, in the server, one backend per connection: CPU.
- A tile is one primary-key read of a stored blob: it does not grow with the map. The viewport
  query reads the map_points rows of the tiles the box touches (never papers) and sorts them.
- Semantic and hybrid searches embed the query on the CPU (all-MiniLM-L6-v2; concurrent queries
  share one model call), which 16 clients queue behind.
- The load averages in the tables count runnable processes (2 = both cores busy): above 2, other
  work shared the machine, and a stage had about 2 / load of the 2 cores it would have alone."""


def _stage_row(name: str, seconds: float, python_gib: float | None, server: list[float], load: tuple) -> list[str]:
    return [name, f"{seconds:,.0f}", f"{python_gib:.1f}" if python_gib is not None else "-",
            f"{server[0]:.1f}" if server else "n/a", f"{load_average_text(load[0])} -> {load_average_text(load[1])}"]


def run(args: argparse.Namespace, settings: Settings, report: Report) -> None:
    """Each stage in turn (map before ann so that the map and its serving figures come first)."""
    base = get_settings()
    memory = ServerMemory(None if base.database_url else base.data_dir if args.keep else settings.data_dir)
    stages: list[list[str]] = []
    header = ["stage", "seconds", "peak memory, Python GiB", "peak memory, PostgreSQL GiB (PSS)",
              "load average at start -> end"]

    def stages_table() -> str:
        return "### Stages\n\n" + table(header, stages)

    texts: dict[str, str] = {}
    goals: list[list[object]] = []

    def publish() -> None:
        report.set("goals", "### Goals\n\n" + table(["goal", "measured", "met"],
                                                     [[g, m, "yes" if ok else "**no**"] for g, m, ok in goals]))
        report.set("stages", stages_table())
        for key, text in texts.items():
            report.set(key, text)

    hnsw_s = None if "load" in args.skip else load_stage(args, settings, memory, stages, texts, goals)
    publish()
    for stage in ("map", "ann", "neighbours", "api"):
        if stage not in args.skip:
            STAGE_RUNNERS[stage](args, settings, memory, stages, texts, goals, hnsw_s)
            publish()


def load_stage(args: argparse.Namespace, settings: Settings, memory: ServerMemory, stages: list, texts: dict,
               goals: list) -> float | None:
    """Files and `atlas load`; returns the HNSW build seconds."""
    from bench.make_scale import write_scale_set

    load_before = os.getloadavg()
    started = time.monotonic()
    files = write_scale_set(get_settings(), args.papers)
    stages.append(_stage_row("files: write the scale set (reused when present)", time.monotonic() - started,
                             None, [], (load_before, os.getloadavg())))
    print(f"files: {files.source}", flush=True)

    load_before = os.getloadavg()
    started = time.monotonic()
    with memory.peak() as server_peak:
        loaded, python_peak = _in_fresh_process(stage_load, settings, args.papers)
    stages.append(_stage_row("load (`atlas load`: parse, COPY, merge, indexes, ANALYZE)", time.monotonic() - started,
                             python_peak, server_peak, (load_before, os.getloadavg())))
    summary = loaded["summary"]
    total_b, table_b, hnsw_b, database_b = loaded["sizes"]
    hnsw_s = next((s for name, s in summary.index_seconds.items() if "hnsw" in name), None)
    other_index_s = sum(s for name, s in summary.index_seconds.items() if "hnsw" not in name)
    phases = summary.timings
    parse_s = phases.get("read + copy", 0) - summary.copy_seconds
    load_rows = [
        ["rows in", f"{summary.rows_in:,} ({summary.loaded:,} loaded, {summary.rejected:,} rejected)"],
        ["load + index, total", f"**{summary.seconds:,.0f} s** = {summary.rows_in / summary.seconds:,.0f} rows/s"],
        ["read + COPY into staging", f"{phases.get('read + copy', 0):,.0f} s = "
         f"{summary.rows_in / max(phases.get('read + copy', 1), 1e-9):,.0f} rows/s"],
        ["of which handing rows to COPY (binary)", f"{summary.copy_seconds:,.0f} s = "
         f"**{summary.rows_in / max(summary.copy_seconds, 1e-9):,.0f} rows/s**"],
        ["of which parsing JSON lines into records",
         f"{parse_s:,.0f} s = {summary.rows_in / max(parse_s, 1e-9):,.0f} rows/s"],
        ["COPY alone: the server taking in 200,000 of these rows already encoded (binary)",
         f"{loaded.get('copy_ingest', float('nan')):,.0f} rows/s"],
        ["embeddings (PCA 384 -> 256, one binary COPY)", f"{phases.get('embeddings', 0):,.0f} s = "
         f"{summary.rows_in / max(phases.get('embeddings', 1), 1e-9):,.0f} rows/s"],
        ["full-text vectors (paper_search_tsv, one parallel query over staging)",
         f"{phases.get('full-text vectors', 0):,.0f} s"],
        ["merge (duplicates, unchanged rows, INSERT ... SELECT into papers)", f"{phases.get('merge', 0):,.0f} s"],
        [f"HNSW index build (m=16, ef_construction=64, {maintenance_workers_text(loaded['maintenance_workers'])})",
         f"**{hnsw_s or 0:,.0f} s**"],
        ["other indexes (GIN full text, GIN trigram title, GIN author keys, B-trees)", f"{other_index_s:,.0f} s"],
        ["ANALYZE", f"{phases.get('analyze', 0):,.0f} s"],
        ["sizes: papers with indexes / heap / HNSW index / whole database",
         f"{total_b / 2**30:.2f} / {table_b / 2**30:.2f} / {hnsw_b / 2**30:.2f} / {database_b / 2**30:.2f} GiB"],
        ["maintenance_work_mem", loaded["maintenance_work_mem"]],
    ]
    detail = ", ".join(f"{k} {v:,.0f} s" for k, v in summary.index_seconds.items())
    texts["load"] = "### Load\n\n" + table(["measure", "value"], load_rows) + f"\n\nIndex builds: {detail}."
    copy_rate = summary.rows_in / max(summary.copy_seconds, 1e-9)
    goals += [
        ["COPY >= 100k rows/s", f"the loader hands {copy_rate:,.0f} rows/s to COPY (read + COPY "
         f"{summary.rows_in / max(phases.get('read + copy', 1), 1e-9):,.0f} rows/s); the server alone takes in "
         f"{loaded.get('copy_ingest', float('nan')):,.0f} rows/s", copy_rate >= 100_000],
        ["load + all indexes <= 15 min on 2 cores (issue 20; 10 min in issue 7)", f"{summary.seconds / 60:.1f} min",
         summary.seconds <= 900],
    ]
    return hnsw_s


def ann_stage(args: argparse.Namespace, settings: Settings, memory: ServerMemory, stages: list, texts: dict,
              goals: list, hnsw_s: float | None) -> None:
    load_before = os.getloadavg()
    started = time.monotonic()
    with memory.peak() as server_peak:
        (body, figures), python_peak = _in_fresh_process(stage_ann, settings, args.queries, args.sweep_papers,
                                                         hnsw_s)
    stages.append(_stage_row("nearest neighbours: pgvector vs exact vs FAISS (bench/ann.py)",
                             time.monotonic() - started, python_peak, server_peak, (load_before, os.getloadavg())))
    texts["ann"] = "### Nearest neighbours: pgvector HNSW vs exact (numpy) vs FAISS HNSW\n\n" + body
    default_ef = figures["default_ef"]
    if default_ef in figures["sql"]:  # the setting the database serves, not the best one found
        recall, p50, _ = figures["sql"][default_ef]
        goals.append(["SQL neighbours: recall@10 >= 0.98 with p50 <= 2 ms",
                      f"recall {recall:.4f}, p50 {p50:.2f} ms at the database default ef_search={default_ef}",
                      recall >= 0.98 and p50 <= 2])
    else:
        goals.append(["SQL neighbours: recall@10 >= 0.98 with p50 <= 2 ms",
                      f"the database default ef_search={default_ef} was not measured", False])
    recall, p50 = figures["search_function"]
    goals.append(["`search_papers_by_vector` (its own ef_search): recall@10 >= 0.995 with p50 <= 5 ms (issue 15)",
                  f"recall {recall:.4f}, p50 {p50:.2f} ms", recall >= 0.995 and p50 <= 5])
    goals.append(["filtered searches (one archive, one year) still return k = 10 rows",
                  f"fewest rows: {figures['fewest_filtered_rows']}", figures["fewest_filtered_rows"] >= 10])


def map_stage(args: argparse.Namespace, settings: Settings, memory: ServerMemory, stages: list, texts: dict,
              goals: list, hnsw_s: float | None) -> None:
    """The all-papers map, then tiles and the viewport through SQL."""
    load_before = os.getloadavg()
    started = time.monotonic()
    with memory.peak() as server_peak:
        built, python_peak = _in_fresh_process(stage_map, settings)
    stages.append(_stage_row("all-papers map: read, projection, levels, tiles, topics",
                             time.monotonic() - started, python_peak, server_peak, (load_before, os.getloadavg())))
    phases = ", ".join(f"{k} {v:,.0f} s" for k, v in built.timings.items())
    texts["map"] = (f"### The all-papers map\n\n{built.papers:,} papers, {built.method}: {phases}; "
                    f"{built.tiles:,} tiles over levels 0-{built.max_level}, {built.topics:,} topics.")
    load_before = os.getloadavg()
    sql_rows, tile_ms, overview_ms = sql_serving(settings)
    goals.append(["one tile <= 5 ms", f"p50 {tile_ms:.2f} ms (SQL)", tile_ms <= 5])
    goals.append(["overview layer <= 50 ms", f"p50 {overview_ms:.2f} ms (SQL, levels 0-2)", overview_ms <= 50])
    texts["serving"] = ("### Serving through SQL\n\nOne connection:\n\n" + table(["query", "p50 ms", "p95 ms"],
                                                                                sql_rows)
                        + f"\n\nLoad average {load_average_text(load_before)} at the start, "
                          f"{load_average_text()} at the end.")


def neighbours_stage(args: argparse.Namespace, settings: Settings, memory: ServerMemory, stages: list, texts: dict,
                     goals: list, hnsw_s: float | None) -> None:
    load_before = os.getloadavg()
    started = time.monotonic()
    limit = args.neighbour_papers or None
    with memory.peak() as server_peak:
        (neighbours, ef_search, embedded), python_peak = _in_fresh_process(stage_neighbours, settings, limit)
    stages.append(_stage_row(f"neighbour table (paper_neighbors, k=10, 2 connections, {neighbours.papers:,} papers)",
                             time.monotonic() - started, python_peak, server_peak, (load_before, os.getloadavg())))
    rate = neighbours.papers_per_second
    text = (f"### Neighbour table\n\n`compute_neighbors` (etl/neighbors.py: one HNSW scan a paper, 2 connections, "
            f"ef_search {ef_search}, the database default), lists rebuilt from empty: {neighbours.describe()}.")
    if neighbours.papers < embedded:
        text += (f" This run computed the lists of the first {neighbours.papers:,} papers only "
                 f"(`--neighbour-papers`): at this rate all {embedded:,} take about "
                 f"{embedded / max(rate, 1e-9) / 60:,.0f} min. Each list costs the same whatever the corpus size "
                 "(an HNSW scan visits about the same number of vectors), so the rate holds for the rest.")
    text += (f" The seed's all-pairs similarity matrix would hold {embedded ** 2 * 4 / 1e12:,.1f} TB of float32 "
             "at this size; paper_neighbors holds 10 rows a paper.")
    texts["neighbours"] = text


def api_stage(args: argparse.Namespace, settings: Settings, memory: ServerMemory, stages: list, texts: dict,
              goals: list, hnsw_s: float | None) -> None:
    """The HTTP API under uvicorn (after the neighbour table, which one endpoint reads)."""
    load_before = os.getloadavg()
    text = ""
    api_rows, api_memory, api_p50 = api_serving(settings, args.requests)
    bare = api_memory.get("without models", float("nan"))
    goals.append(["API process memory <= 400 MB without models", f"{bare:,.0f} MiB peak RSS", bare <= 400])
    if "tile" in api_p50:  # judged on the measured number: 5.04 ms misses the goal even if it prints as 5.0
        goals.append(["one tile <= 5 ms through the HTTP API (1 client)", f"p50 {api_p50['tile']:.2f} ms",
                      api_p50["tile"] <= 5])
    text += ("### Serving through the HTTP API\n\nuvicorn, one worker, database on the same machine, "
             f"{args.requests} requests per endpoint and concurrency:\n\n")
    text += table(["endpoint", "requests", "1 client p50 ms", "1 client p95 ms", "16 clients p50 ms",
                   "16 clients p95 ms", "errors"], api_rows)
    text += ("\n\nAPI process memory (RSS): "
             + ", ".join(f"{k} {v:,.0f} MiB" for k, v in api_memory.items())
             + " (peak RSS for the last two).")
    text += f"\n\nLoad average {load_average_text(load_before)} at the start, {load_average_text()} at the end."
    texts["api"] = text


STAGE_RUNNERS = {"map": map_stage, "ann": ann_stage, "neighbours": neighbours_stage, "api": api_stage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=1_200_000)
    parser.add_argument("--keep", metavar="NAME", help="load into database NAME on the configured server and keep it")
    parser.add_argument("--skip", default="", help=f"comma-separated stages to leave out: {', '.join(STAGES)}")
    parser.add_argument("--queries", type=int, default=1000, help="held-out queries of the ann stage")
    parser.add_argument("--sweep-papers", type=int, default=100_000, help="papers of the m / ef_construction sweep")
    parser.add_argument("--requests", type=int, default=100, help="API requests per endpoint and concurrency")
    parser.add_argument("--neighbour-papers", type=int, default=100_000,
                        help="papers of the neighbour-table stage (their rate gives the time for all; 0 = all)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--write-from-state", action="store_true",
                        help="write the section of the last run of --papers (and --skip load) from its state file")
    args = parser.parse_args()
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.write_from_state:
        Report.from_state(args.papers, "load" in args.skip).finish()
        return
    from bench.make_scale import kept_database
    from bench.scratch_db import scratch_database

    if "load" in args.skip and not args.keep:
        parser.error("--skip load needs --keep NAME: the database loaded by an earlier run")
    report = Report(args.papers, not args.no_write, after_load="load" in args.skip)
    at_start = load_average_text()
    report.set("intro", f"{args.papers:,} papers of the scale set (bench/make_scale.py: real metadata and text "
                        "resampled from the 100k sample, vectors drawn around its real embeddings), in "
                        f"{'database ' + args.keep if args.keep else 'a scratch database'} on PostgreSQL 18 + pgvector "
                        "0.8 on this machine; load average "
                        f"(1/5/15 min) at the start {at_start}. Other engineers' work shared the 2 cores during "
                        "the run when the load averages below exceed 2.")
    started = time.monotonic()
    if args.keep:
        run(args, kept_database(args.keep), report)
    else:
        with scratch_database() as settings:
            run(args, settings, report)
    seconds = time.monotonic() - started
    report.set("end", f"Whole run: {seconds / 60:,.1f} min (goal: under an hour unattended: "
                      f"{'met' if seconds < 3600 else '**not met**'}); load average at the end {load_average_text()}.")
    report.finish()


if __name__ == "__main__":
    main()
