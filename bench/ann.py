"""Nearest neighbours side by side: pgvector HNSW through SQL, exact search with numpy, FAISS HNSW.

    .venv/bin/python bench/ann.py [--papers 100000] [--queries 1000] [--database NAME] [--no-write]
    .venv/bin/python bench/ann.py --database atlas_scale --choose-ef-search [--queries 500]
    .venv/bin/python bench/ann.py --database atlas_scale --search-function [--queries 1000]

On the same vectors (the papers' halfvec(256) embeddings as stored, read back from the database)
and the same held-out queries (drawn like the scale set's copies, bench/make_scale.py, projected
to 256 dimensions by the database's own PCA and rounded to halfvec), in one run:
- exact search, the seed's approach: every query against every vector with numpy (float32, one
  matrix-vector product per query); its top 10 is the ground truth of recall@10;
- pgvector HNSW through SQL (`order by embedding <=> q limit 10`, one client, prepared) at several
  hnsw.ef_search values; the index of the database (m = 16, ef_construction = 64);
- FAISS HNSW (IndexHNSWFlat, inner product on normalised vectors, the same m and ef_construction)
  in process, at the same ef_search values;
- Chroma (PyPI `chromadb`, embedded, a PersistentClient in a scratch folder: the store the seed
  project serves from) with the same m and ef_construction (`max_neighbors`, `ef_construction`),
  cosine space, at the same ef_search values; its build time (every vector added through the client,
  batches of the client's largest size) and its folder's size on disk. Needs the `bench` extra
  (`pip install -e .[bench]`); without it the run says so in its section;
- filtered SQL searches (`search_papers_by_vector` with one archive, and with one year), which must
  still return k rows, with their recall against an exact search of the filtered papers;
- other m / ef_construction settings of pgvector, built on the first --sweep-papers papers
  (each build of the whole table would take minutes).
Without --database, a scratch database is filled with the scale set of --papers papers
(bench/make_scale.py) and dropped afterwards. `--stores-only` (with --database) runs exact, pgvector,
FAISS and Chroma only, without the filtered searches and the sweep, into a section of its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from pgvector import HalfVector  # noqa: E402

from app.core.connections import connect  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.core.space import read_space  # noqa: E402
from bench.report import load_average_text, maintenance_workers_text, table, write_section  # noqa: E402
from etl.vectors import read_embeddings  # noqa: E402

K = 10
EF_SEARCH = (10, 20, 40, 64, 100, 200)
SWEEP = ((16, 64), (16, 32), (24, 100))  # (m, ef_construction); the first is the database's
SWEEP_EF = (40, 100)
FILTER_ARCHIVE = "q-bio"
FILTER_YEAR = 2012


@dataclass
class Run:
    """One search method at one setting: per-query latencies and recall@10."""

    name: str
    setting: str
    recall: float
    latencies_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[int(0.95 * (len(ordered) - 1))]

    @property
    def qps(self) -> float:
        return 1000 * len(self.latencies_ms) / sum(self.latencies_ms)


def measuring_connection(settings: Settings) -> psycopg.Connection:
    """app.core.connections.connect (autocommit, pgvector's types registered) with JIT off, as every
    measurement here runs: compiling a k-NN statement's plan costs more than the statement."""
    conn = connect(settings, autocommit=True)
    conn.execute("set jit = off")
    return conn


def recall_at_k(found: list[np.ndarray], truth: np.ndarray) -> float:
    hits = sum(len(np.intersect1d(f[:K], t[:K])) for f, t in zip(found, truth, strict=True))
    return hits / (K * len(truth))


def timed(search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
    found, times = [], []
    for q in queries:
        started = time.perf_counter()
        found.append(search(q))
        times.append((time.perf_counter() - started) * 1000)
    return found, times


# ---- exact ------------------------------------------------------------------------------------
def normalised(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_top_k(matrix: np.ndarray, ids: np.ndarray, queries: np.ndarray, mask: np.ndarray | None = None,
                block: int = 64) -> np.ndarray:
    """Ground truth: the ids of the K most cosine-similar rows for each query (blocks of queries)."""
    rows = np.arange(len(matrix)) if mask is None else np.flatnonzero(mask)
    candidates = matrix if mask is None else matrix[rows]
    out = np.empty((len(queries), K), dtype=np.int64)
    for start in range(0, len(queries), block):
        sims = queries[start:start + block] @ candidates.T
        top = np.argpartition(-sims, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[start:start + block] = ids[rows[np.take_along_axis(top, order, axis=1)]]
    return out


# ---- pgvector -------------------------------------------------------------------------------
def sql_search(conn: psycopg.Connection, table_name: str = "papers") -> Callable[[np.ndarray], np.ndarray]:
    query = f"select id from {table_name} order by embedding <=> %s limit {K}"

    def search(q: np.ndarray) -> np.ndarray:
        rows = conn.execute(query, (HalfVector(q),), prepare=True).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    return search


def filtered_search(conn: psycopg.Connection, **filters: object) -> Callable[[np.ndarray], np.ndarray]:
    names = "".join(f", {name} => %({name})s" for name in filters)
    query = f"select paper_id from search_papers_by_vector(%(q)s, {K}{names})"

    def search(q: np.ndarray) -> np.ndarray:
        rows = conn.execute(query, {"q": HalfVector(q), **filters}, prepare=True).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    return search


def where_the_time_goes(conn: psycopg.Connection, queries: np.ndarray, ef: int) -> list[list[str]]:
    """The parts of one k-NN statement at hnsw.ef_search = ef, p50 ms over the queries: the round trip
    of an empty prepared statement, the same k-NN with its vector sent as text or binary, prepared or
    not, and the server's own execution time (EXPLAIN ANALYZE, TIMING OFF: the executor and the index
    scan, no protocol)."""
    conn.execute(f"set hnsw.ef_search = {ef}")
    knn = f"select id from papers order by embedding <=> %s limit {K}"
    text_knn = f"select id from papers order by embedding <=> %s::halfvec limit {K}"

    def p50(run: Callable[[np.ndarray], object]) -> float:
        times = []
        for q in queries:
            started = time.perf_counter()
            run(q)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    def executor(q: np.ndarray) -> float:
        plan = conn.execute(f"explain (analyze, timing off, format json) {knn}", (HalfVector(q),)).fetchone()[0]
        return float(plan[0]["Execution Time"])

    rows = [
        ["`select 1`, prepared (loopback round trip, protocol, an empty executor)",
         p50(lambda q: conn.execute("select 1", prepare=True).fetchall())],
        ["k-NN, prepared, vector as a binary parameter (how the benchmark and the API ask)",
         p50(lambda q: conn.execute(knn, (HalfVector(q),), prepare=True).fetchall())],
        ["k-NN, prepared, vector as text", p50(lambda q: conn.execute(
            text_knn, (HalfVector(q).to_text(),), prepare=True).fetchall())],
        ["k-NN, not prepared (parse and plan every time), binary",
         p50(lambda q: conn.execute(knn, (HalfVector(q),), prepare=False).fetchall())],
        ["k-NN inside the server only (EXPLAIN ANALYZE execution time: index scan, distances, visibility)",
         statistics.median(executor(q) for q in queries)],
    ]
    conn.execute("reset hnsw.ef_search")
    return [[what, f"{ms:.3f}"] for what, ms in rows]


def index_size(conn: psycopg.Connection, name: str) -> int:
    return conn.execute("select pg_relation_size(%s::regclass)", (name,)).fetchone()[0]


# ---- FAISS ----------------------------------------------------------------------------------
def faiss_hnsw(matrix: np.ndarray, m: int, ef_construction: int):  # -> (faiss.Index, seconds)
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index = faiss.IndexHNSWFlat(matrix.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    started = time.monotonic()
    index.add(matrix)
    return index, time.monotonic() - started


def faiss_search(index, ids: np.ndarray, ef: int) -> Callable[[np.ndarray], np.ndarray]:
    import faiss

    params = faiss.SearchParametersHNSW(efSearch=ef)

    def search(q: np.ndarray) -> np.ndarray:
        _, found = index.search(q[None, :], K, params=params)
        return ids[found[0][found[0] >= 0]]

    return search


# ---- Chroma ---------------------------------------------------------------------------------
def chroma_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("chromadb") is not None


def chroma_hnsw(matrix: np.ndarray, ids: np.ndarray, m: int, ef_construction: int, folder: Path):
    """A Chroma collection of the vectors in `folder`: (collection, seconds to add them all, bytes on disk)."""
    import chromadb

    client = chromadb.PersistentClient(path=str(folder))
    collection = client.create_collection(
        "ann", configuration={"hnsw": {"space": "cosine", "max_neighbors": m, "ef_construction": ef_construction,
                                       "num_threads": os.cpu_count() or 1}})
    batch = client.get_max_batch_size()
    keys = [str(i) for i in ids.tolist()]
    started = time.monotonic()
    for start in range(0, len(matrix), batch):
        collection.add(ids=keys[start:start + batch], embeddings=matrix[start:start + batch])
    collection.count()  # the adds are applied before the clock stops
    seconds = time.monotonic() - started
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return collection, seconds, size


def chroma_search(collection, ef: int, folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    """Queries at ef_search = ef. The embedded client keeps the index it loaded with the ef of that
    moment (a `modify` alone left the recall the same at every ef), so the collection is opened again
    by a fresh client after the change."""
    import chromadb
    from chromadb.api.client import SharedSystemClient

    collection.modify(configuration={"hnsw": {"ef_search": ef}})
    SharedSystemClient.clear_system_cache()
    collection = chromadb.PersistentClient(path=str(folder)).get_collection("ann")
    if collection.configuration["hnsw"]["ef_search"] != ef:
        raise RuntimeError(f"Chroma kept ef_search {collection.configuration['hnsw']['ef_search']}, not {ef}")

    def search(q: np.ndarray) -> np.ndarray:
        found = collection.query(query_embeddings=q[None, :], n_results=K, include=[])["ids"][0]
        return np.array([int(i) for i in found], dtype=np.int64)

    return search


def chroma_runs(matrix: np.ndarray, ids: np.ndarray, unit_queries: np.ndarray, truth: np.ndarray, m: int,
                efc: int, progress: Callable[[str], None]) -> tuple[dict[int, Run], float, int]:
    """Chroma at every EF_SEARCH: (runs, build seconds, bytes on disk); the folder is removed afterwards."""
    import shutil
    import tempfile

    from app.core.settings import get_settings

    folder = Path(tempfile.mkdtemp(prefix="ann-chroma-", dir=get_settings().data_dir))
    try:
        collection, build_s, size = chroma_hnsw(matrix, ids, m, efc, folder)
        progress(f"chroma: built in {build_s:.0f} s, {mb(size)}")
        runs: dict[int, Run] = {}
        for ef in EF_SEARCH:
            search = chroma_search(collection, ef, folder)
            timed(search, unit_queries[:100])  # warm
            found, times = timed(search, unit_queries)
            runs[ef] = Run("Chroma HNSW, embedded (PersistentClient)", f"ef_search={ef}",
                           recall_at_k(found, truth), times)
            progress(f"chroma ef {ef}: recall {runs[ef].recall:.4f} p50 {runs[ef].p50:.3f} ms")
        return runs, build_s, size
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def mb(size: float) -> str:
    return f"{size / 1e6:,.0f} MB"


# ---- the benchmark --------------------------------------------------------------------------
def query_vectors(conn: psycopg.Connection, count: int) -> np.ndarray:
    """The held-out queries as the database would search them: projected to 256-d, rounded to halfvec."""
    from bench.make_scale import held_out_queries

    space = read_space(conn)
    if space is None:
        raise SystemExit("the database has no embedding space: load papers with vectors first")
    return space.project(held_out_queries(count)).astype(np.float16).astype(np.float32)


def paper_facts(conn: psycopg.Connection) -> tuple[np.ndarray, np.ndarray]:
    """Archive and year (-1 = unknown) of each paper with a vector, in id order (the rows of
    read_embeddings), for the filtered searches' exact answers."""
    rows = conn.execute("select archive, extract(year from published) from papers "
                        "where embedding is not null order by id").fetchall()
    return (np.array([r[0] for r in rows], dtype=object),
            np.array([-1 if r[1] is None else int(r[1]) for r in rows]))


def filter_cases(archives: np.ndarray, years: np.ndarray) -> list[tuple[str, np.ndarray, dict[str, str]]]:
    """The filtered searches measured: (label, mask of the papers kept, search_papers_by_vector filters)."""
    return [
        (f"archive {FILTER_ARCHIVE}", archives == FILTER_ARCHIVE, {"category": FILTER_ARCHIVE}),
        (f"published in {FILTER_YEAR}", years == FILTER_YEAR,
         {"published_from": f"{FILTER_YEAR}-01-01", "published_to": f"{FILTER_YEAR}-12-31"}),
    ]


def run_ann(settings: Settings, queries_count: int = 1000, sweep_papers: int = 200_000,
            hnsw_build_s: float | None = None, progress: Callable[[str], None] = print,
            filtered_queries: int = 100, stores_only: bool = False) -> tuple[str, dict]:
    """Run every comparison on the database of `settings`; (the markdown body, the headline figures).
    `stores_only`: exact, pgvector, FAISS and Chroma, without the filtered searches and the sweep."""
    load_start = os.getloadavg()
    with measuring_connection(settings) as conn:
        ids, stored = read_embeddings(conn)
        queries = query_vectors(conn, queries_count)
        archives, years = paper_facts(conn)
        m, efc = SWEEP[0]
        hnsw_bytes = index_size(conn, "papers_embedding_hnsw")
        workers = maintenance_workers_text(int(conn.execute("show max_parallel_maintenance_workers").fetchone()[0]))
        default_ef = int(conn.execute("show hnsw.ef_search").fetchone()[0])
        n = len(ids)
        progress(f"ann: {n:,} vectors, {len(queries)} queries")

        # exact
        started = time.monotonic()
        matrix = normalised(stored)
        prepare_s = time.monotonic() - started
        unit_queries = normalised(queries)
        truth = exact_top_k(matrix, ids, unit_queries)
        exact_queries = unit_queries[: min(50, len(queries))]  # ~0.2-1 s each at 1.2M
        found, times = timed(lambda q: ids[_top(matrix @ q)], exact_queries)
        runs = [Run("exact, numpy brute force (float32)", "-", recall_at_k(found, truth[: len(exact_queries)]),
                    times)]
        progress(f"exact p50 {runs[0].p50:.1f} ms")

        # pgvector HNSW
        sql_runs: dict[int, Run] = {}
        search = sql_search(conn)
        for _ in range(2):  # warm the index into shared buffers / page cache
            timed(search, queries[:200])
        for ef in EF_SEARCH:
            conn.execute(f"set hnsw.ef_search = {ef}")
            found, times = timed(search, queries)
            sql_runs[ef] = Run("pgvector HNSW, SQL", f"ef_search={ef}", recall_at_k(found, truth), times)
            progress(f"sql ef {ef}: recall {sql_runs[ef].recall:.4f} p50 {sql_runs[ef].p50:.2f} ms")
        conn.execute("reset hnsw.ef_search")
        found, times = timed(filtered_search(conn), queries)
        api_run = Run("`search_papers_by_vector` (its own ef_search: atlas.search_ef_search, default 100)", "-",
                      recall_at_k(found, truth), times)

        # filtered searches at the database default
        filter_rows = []
        for label, mask, filters in [] if stores_only else filter_cases(archives, years):
            # Fewer queries: a selective filter is an exact scan of the papers it keeps (~100 ms at 1.2M).
            subset_truth = exact_top_k(matrix, ids, unit_queries[:filtered_queries], mask)
            found, times = timed(filtered_search(conn, **filters), queries[:filtered_queries])
            run = Run(label, "-", recall_at_k(found, subset_truth), times)
            filter_rows.append([label, f"{mask.mean():.1%}", min(len(f) for f in found), f"{run.recall:.4f}",
                                f"{run.p50:.2f}", f"{run.p95:.2f}"])
            progress(f"filtered {label}: {filter_rows[-1]}")

        # FAISS HNSW, same vectors and graph settings
        index, faiss_build = faiss_hnsw(matrix, m, efc)
        import faiss

        faiss_bytes = faiss.serialize_index(index).nbytes
        faiss_runs: dict[int, Run] = {}
        for ef in EF_SEARCH:
            found, times = timed(faiss_search(index, ids, ef), unit_queries)
            faiss_runs[ef] = Run("FAISS HNSW, in process", f"efSearch={ef}", recall_at_k(found, truth), times)
            progress(f"faiss ef {ef}: recall {faiss_runs[ef].recall:.4f} p50 {faiss_runs[ef].p50:.3f} ms")
        del index

        parts = where_the_time_goes(conn, queries[:300], 40)
        progress(f"where the time goes: {parts}")

        chroma: tuple[dict[int, Run], float, int] | None = None
        if chroma_available():
            chroma = chroma_runs(matrix, ids, unit_queries, truth, m, efc, progress)

        sweep_rows = [] if stores_only else sweep_builds(conn, ids, matrix, queries, unit_queries,
                                                         min(sweep_papers, n), progress)

    load_end = os.getloadavg()
    rows = [[r.name, r.setting, f"{r.recall:.4f}", f"{r.p50:.3f}", f"{r.p95:.3f}", f"{r.qps:,.0f}", "", ""]
            for r in runs]
    for ef in EF_SEARCH:
        s, f = sql_runs[ef], faiss_runs[ef]
        rows.append([s.name, s.setting, f"{s.recall:.4f}", f"{s.p50:.3f}", f"{s.p95:.3f}", f"{s.qps:,.0f}",
                     f"x{s.p50 / f.p50:.1f}", f"{s.recall - f.recall:+.4f}"])
    rows.append([api_run.name, "-", f"{api_run.recall:.4f}", f"{api_run.p50:.3f}", f"{api_run.p95:.3f}",
                 f"{api_run.qps:,.0f}", "", ""])
    for ef in EF_SEARCH:
        f = faiss_runs[ef]
        rows.append([f.name, f.setting, f"{f.recall:.4f}", f"{f.p50:.3f}", f"{f.p95:.3f}", f"{f.qps:,.0f}",
                     "x1.0", "+0.0000"])
    for ef in EF_SEARCH if chroma else ():
        c, f = chroma[0][ef], faiss_runs[ef]
        rows.append([c.name, c.setting, f"{c.recall:.4f}", f"{c.p50:.3f}", f"{c.p95:.3f}", f"{c.qps:,.0f}",
                     f"x{c.p50 / f.p50:.1f}", f"{c.recall - f.recall:+.4f}"])
    body = (
        f"{n:,} vectors (halfvec(256) as stored), {len(queries):,} held-out queries, k = {K}, one client; "
        f"exact search timed on the first {len(exact_queries)} queries. Load average (1/5/15 min) "
        f"{load_average_text(load_start)} at the start, {load_average_text(load_end)} at the end.\n\n"
    )
    body += table(["method", "setting", "recall@10", "p50 ms", "p95 ms", "QPS",
                   "p50 vs FAISS (same ef)", "recall vs FAISS"], rows)
    build_rows = [
        ["exact (numpy)", f"{prepare_s:.1f} (normalise the matrix)", mb(matrix.nbytes), "-"],
        [f"pgvector HNSW m={m}, ef_construction={efc}, {workers}",
         f"{hnsw_build_s:.0f} (in the load)" if hnsw_build_s is not None else "(built by the load)",
         mb(hnsw_bytes), f"x{hnsw_bytes / faiss_bytes:.2f}"],
        [f"FAISS HNSW M={m}, efConstruction={efc}, {os.cpu_count()} threads", f"{faiss_build:.0f}",
         mb(faiss_bytes), "x1.00"],
    ]
    if chroma:
        build_rows.append([f"Chroma HNSW max_neighbors={m}, ef_construction={efc}, {os.cpu_count()} threads "
                           "(every vector added through the client; its folder on disk)", f"{chroma[1]:.0f}",
                           mb(chroma[2]), f"x{chroma[2] / faiss_bytes:.2f}"])
    body += "\n\n" + table(["index", "build s", "size", "size vs FAISS"], build_rows)
    body += ("\n\nWhere pgvector's constant goes (one client, hnsw.ef_search = 40, the first "
             f"{min(300, len(queries))} queries, p50):\n\n" + table(["statement", "p50 ms"], parts)
             + f"\n\nFAISS at efSearch=40 in process: p50 {faiss_runs[40].p50:.3f} ms.")
    if not chroma:
        body += "\n\nChroma: not measured in this run (chromadb is not installed: `pip install -e .[bench]`)."
    if stores_only:
        return body + "\n\n" + READING.format(exact_bytes=mb(n * stored.shape[1] * 4)), {}
    body += ("\n\nFiltered searches, `search_papers_by_vector` at its own ef_search "
             "(an exact scan of the kept papers when the planner expects at most atlas.exact_search_max_rows "
             f"of them, iterative HNSW scans above), the first {min(filtered_queries, len(queries))} queries, "
             "recall against an exact search of the papers the filter keeps:\n\n")
    body += table(["filter", "papers kept", "fewest rows returned (k = 10)", "recall@10", "p50 ms", "p95 ms"],
                  filter_rows)
    if sweep_rows:
        body += (f"\n\nOther pgvector graph settings, built on the first {min(sweep_papers, n):,} papers "
                 "(same queries; ground truth on that subset):\n\n")
        body += table(["m", "ef_construction", f"build s ({workers})", "size",
                       *[f"recall@10 / p50 ms at ef_search={ef}" for ef in SWEEP_EF]], sweep_rows)
    exact_bytes = n * stored.shape[1] * 4
    figures = {
        "sql": {ef: (r.recall, r.p50, r.p95) for ef, r in sql_runs.items()},
        "fewest_filtered_rows": min(int(row[2]) for row in filter_rows),  # not with stores_only
        "default_ef": default_ef,
        "search_function": (api_run.recall, api_run.p50),
    }
    return body + "\n\n" + READING.format(exact_bytes=mb(exact_bytes)), figures


def _top(sims: np.ndarray) -> np.ndarray:
    top = np.argpartition(-sims, K)[:K]
    return top[np.argsort(-sims[top])]


def sweep_builds(conn: psycopg.Connection, ids: np.ndarray, matrix: np.ndarray, queries: np.ndarray,
                 unit_queries: np.ndarray, papers: int, progress: Callable[[str], None]) -> list[list[str]]:
    """pgvector HNSW with other (m, ef_construction) on a copy of the first `papers` papers."""
    if papers < 1000:
        return []
    conn.execute("drop table if exists ann_sweep")
    conn.execute("create unlogged table ann_sweep as select id, embedding from papers "
                 "where embedding is not null order by id limit %s", (papers,))
    subset_truth = exact_top_k(matrix[:papers], ids[:papers], unit_queries)
    search = sql_search(conn, "ann_sweep")
    rows = []
    try:
        for m, efc in SWEEP:
            conn.execute("drop index if exists ann_sweep_hnsw")
            started = time.monotonic()
            conn.execute(f"create index ann_sweep_hnsw on ann_sweep using hnsw (embedding halfvec_cosine_ops) "
                         f"with (m = {m}, ef_construction = {efc})")
            build = time.monotonic() - started
            row = [m, efc, f"{build:.1f}", mb(index_size(conn, "ann_sweep_hnsw"))]
            timed(search, queries[:200])
            for ef in SWEEP_EF:
                conn.execute(f"set hnsw.ef_search = {ef}")
                found, times = timed(search, queries)
                run = Run("sweep", "", recall_at_k(found, subset_truth), times)
                row.append(f"{run.recall:.4f} / {run.p50:.2f}")
            conn.execute("reset hnsw.ef_search")
            rows.append(row)
            progress(f"sweep {row}")
    finally:
        conn.execute("drop table if exists ann_sweep")
    return rows


READING = (
    "Reading: exact search reads every vector for every query (n x 256 x 4 bytes of float32: "
    "{exact_bytes} per query), so it is bounded by memory bandwidth and grows linearly with the corpus; "
    "its recall is 1 by definition. Both HNSW indexes visit a few thousand vectors per query whatever "
    "the corpus size. FAISS answers in process on float32 with no SQL, no protocol and no MVCC "
    "visibility checks; pgvector pays for a statement (parse of a prepared plan, executor, index "
    "pages through shared buffers, halfvec distance) and a loopback round trip (about 0.1 ms), "
    "which is the constant gap in the p50 ratio. Chroma runs hnswlib in process too, behind its Python "
    "client (a query goes through the client's validation and its Rust core). ef_search trades recall for "
    "latency in each."
)


FUNCTION_ROW = "`search_papers_by_vector(q, 10)`"


def search_function(settings: Settings, queries_count: int, efs: tuple[int, ...] = (64, 100, 128, 200),
                    rounds: int = 3) -> tuple[str, dict]:
    """`search_papers_by_vector` at its own effort (atlas.search_ef_search) beside the plain k-NN at
    several hnsw.ef_search values, in interleaved rounds (every setting once per round, medians of the
    rounds' p50), so a moment of load on the shared cores hits every setting alike; no FAISS, no sweep."""
    load_start = os.getloadavg()
    with measuring_connection(settings) as conn:
        ids, stored = read_embeddings(conn)
        queries = query_vectors(conn, queries_count)
        effort = conn.execute("select coalesce(nullif(current_setting('atlas.search_ef_search', true), ''), "
                              "'the function default')").fetchone()[0]
        truth = exact_top_k(normalised(stored), ids, normalised(queries))
        del stored
        for _ in range(2):  # warm the index at the largest effort measured
            conn.execute(f"set hnsw.ef_search = {max(efs)}")
            timed(sql_search(conn), queries[:200])
        conn.execute("reset hnsw.ef_search")
        runs: dict[str, list[Run]] = {}
        for _ in range(rounds):
            for ef in efs:
                conn.execute(f"set hnsw.ef_search = {ef}")
                found, times = timed(sql_search(conn), queries)
                runs.setdefault(f"k-NN in SQL, hnsw.ef_search = {ef}", []).append(
                    Run("", "", recall_at_k(found, truth), times))
            conn.execute("reset hnsw.ef_search")
            found, times = timed(filtered_search(conn), queries)
            runs.setdefault(FUNCTION_ROW, []).append(Run("", "", recall_at_k(found, truth), times))
    rows = [[name, f"{done[0].recall:.4f}", f"{statistics.median(r.p50 for r in done):.2f}",
             " / ".join(f"{r.p50:.2f}" for r in done), f"{statistics.median(r.p95 for r in done):.2f}"]
            for name, done in runs.items()]
    function = runs[FUNCTION_ROW]
    figures = {"recall": function[0].recall, "p50": statistics.median(r.p50 for r in function), "vectors": len(ids)}
    body = (
        f"{len(ids):,} vectors (halfvec(256) as stored), {len(queries):,} held-out queries, k = {K}, one client, "
        f"{rounds} interleaved rounds; the function at its own effort (atlas.search_ef_search: {effort}). "
        f"Load average {load_average_text(load_start)} at the start, {load_average_text()} at the end.\n\n"
        + table(["search", "recall@10", "p50 ms (median of rounds)", "p50 ms per round", "p95 ms (median)"], rows)
        + f"\n\nIssue 15's goal, recall@10 >= 0.995 at p50 <= 5 ms: recall {figures['recall']:.4f}, "
        f"p50 {figures['p50']:.2f} ms: {'met' if figures['recall'] >= 0.995 and figures['p50'] <= 5 else 'not met'}."
    )
    return body, figures


def choose_ef_search(settings: Settings, queries_count: int, efs: tuple[int, ...] = (20, 40, 64, 100),
                     filtered_queries: int = 100) -> str:
    """hnsw.ef_search side by side for what the database default serves: plain k-NN, the search
    function, and the filtered searches (recall, fewest rows, latency); no FAISS, no sweep."""
    load_start = os.getloadavg()
    with measuring_connection(settings) as conn:
        ids, stored = read_embeddings(conn)
        queries = query_vectors(conn, queries_count)
        archives, years = paper_facts(conn)
        default_ef = int(conn.execute("show hnsw.ef_search").fetchone()[0])
        matrix = normalised(stored)
        unit_queries = normalised(queries)
        truth = exact_top_k(matrix, ids, unit_queries)
        filters = [(label, arguments, exact_top_k(matrix, ids, unit_queries[:filtered_queries], mask))
                   for label, mask, arguments in filter_cases(archives, years)]
        del matrix
        for _ in range(2):
            timed(sql_search(conn), queries[:200])
        rows = []
        for ef in efs:
            conn.execute(f"set hnsw.ef_search = {ef}")
            found, times = timed(sql_search(conn), queries)
            plain = Run("", "", recall_at_k(found, truth), times)
            found, times = timed(filtered_search(conn), queries)
            function = Run("", "", recall_at_k(found, truth), times)
            row = [ef, f"{plain.recall:.4f}", f"{plain.p50:.2f} / {plain.p95:.2f}",
                   f"{function.p50:.2f} / {function.p95:.2f}"]
            for _, arguments, subset_truth in filters:
                found, times = timed(filtered_search(conn, **arguments), queries[:filtered_queries])
                run = Run("", "", recall_at_k(found, subset_truth), times)
                row.append(f"{run.recall:.4f}, {min(len(f) for f in found)} rows, {run.p50:.1f} / {run.p95:.1f}")
            rows.append(row)
            print(row, flush=True)
    body = (
        f"{len(ids):,} vectors, {len(queries):,} held-out queries, k = {K}, one client, latencies p50 / p95 ms; "
        f"database default when measured: {default_ef}. Load average {load_average_text(load_start)} at the "
        f"start, {load_average_text()} at the end.\n\n"
    )
    return body + table(["ef_search", "recall@10 (k-NN in SQL)", "k-NN in SQL", "`search_papers_by_vector`",
                         *[f"{label}: recall@10, fewest rows, p50 / p95" for label, _, _ in filters]], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=100_000, help="size of the scale set (without --database)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--sweep-papers", type=int, default=200_000)
    parser.add_argument("--database", help="use this existing database on the configured server instead")
    parser.add_argument("--choose-ef-search", action="store_true",
                        help="with --database: only the ef_search comparison that picks the database default")
    parser.add_argument("--stores-only", action="store_true",
                        help="with --database: exact, pgvector, FAISS and Chroma only (no filtered searches, no sweep)")
    parser.add_argument("--search-function", action="store_true",
                        help="with --database: only search_papers_by_vector beside the plain k-NN, in rounds")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from app.core.settings import get_settings
    from bench.make_scale import kept_database, load_scale_set, write_scale_set
    from bench.scratch_db import scratch_database

    if args.database and args.choose_ef_search:
        body = choose_ef_search(kept_database(args.database), args.queries)
        print(body)
        if not args.no_write:
            write_section("Nearest neighbours: choosing hnsw.ef_search", body)
        return
    if args.database and args.search_function:
        settings = kept_database(args.database)
        body, figures = search_function(settings, args.queries)
        print(body)
        if not args.no_write:
            write_section(f"Nearest neighbours: the search function on {figures['vectors']:,} vectors", body)
        return
    if args.database and args.stores_only:
        settings = kept_database(args.database)
        with psycopg.connect(settings.database_url) as conn:
            vectors = conn.execute("select count(*) from papers where embedding is not null").fetchone()[0]
        body, _ = run_ann(settings, args.queries, stores_only=True)
        print(body)
        if not args.no_write:  # write_section waits for this run's own load to decay before reading "after"
            # one section per corpus size: the real 100k sample and the 1.2M scale set side by side
            write_section(f"Nearest neighbours: pgvector, FAISS and Chroma on the same {vectors:,} vectors", body)
        return
    if args.database:
        body, _ = run_ann(kept_database(args.database), args.queries, args.sweep_papers)
    else:
        with scratch_database() as settings:
            load_scale_set(settings, write_scale_set(get_settings(), args.papers))
            body, _ = run_ann(settings, args.queries, args.sweep_papers)
    print(body)
    if not args.no_write:
        write_section("Nearest neighbours: pgvector HNSW vs exact vs FAISS", body)


if __name__ == "__main__":
    main()
