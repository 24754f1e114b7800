"""`paper_neighbors`: the k nearest papers of every paper, precomputed with the HNSW index.

This replaces the seed's all-pairs similarity matrix (n^2 floats: 5.8 TB at 1.2M papers) with
k rows a paper: (paper_id, rank, neighbor_id, similarity), rank 1 = nearest, similarity = 1 - cosine
distance of the halfvec embeddings. The map's hover lines and analysts read it.

Method
------
- The work: every paper with an embedding whose list is missing or short (fewer than
  min(k, papers with an embedding - 1) rows: a new paper, one whose embedding changed, a list the
  embedding trigger or a deletion cut, or one from a smaller k). Everything else is up to date and
  skipped, so `atlas build` can run this every time. `rebuild=True` empties the table first and
  does every paper.
- The papers are split into batches of ids (by id). One batch is ONE statement (NEAREST_SQL): for
  each paper p of the batch, a lateral HNSW index scan (`order by q.embedding <=> p.embedding
  limit k + 1`, an Index Scan using papers_embedding_hnsw) finds its k + 1 nearest papers; p itself
  is dropped and the rest are ranked by distance. No vector leaves the server. Each batch commits
  on its own, so an interrupted run keeps what it has done and a rerun goes on with the papers
  still missing.
- Batches run on `workers` connections in parallel, one thread each: the threads only wait on the
  server, which scans in one backend per connection, so the speed-up follows the cores the server
  gets. Each batch's lists land in a temp table first (batch_nearest) and go from there into
  paper_neighbors; about a quarter of the time is that insert, mostly the two foreign-key checks
  of every row. The rate on 2 cores is in docs/benchmarks.md, section "Neighbour table" (bench/scale.py).
- The HNSW search is approximate: hnsw.ef_search (the session's, i.e. the database default of 40
  since migration 0008, unless given; never below the number of rows a scan must return) trades
  speed for recall; recall@10 against an exact search per ef_search is in docs/benchmarks.md
  ("Nearest neighbours: pgvector HNSW vs exact", bench/ann.py).

New papers, and the reverse update
----------------------------------
A new paper n gets its own list from the index like any other. But n may also belong in the lists
of older papers, computed before n existed. So in a run that finds lists already in the table, the
scan of each new paper keeps its REVERSE_WIDTH * k nearest (not just k), and after the batch's
lists are written, every pair (n -> p, similarity) of those wider lists whose p is an older paper
(outside the batch, with a full list, n not in it yet) whose k-th similarity n beats, is merged
into p's list: set-wise in SQL, a temp table of the candidates plus the current rows of the
affected papers, ranked with row_number, rewriting in place the ranks whose neighbour changed.
This happens in the batch's transaction, under a transaction advisory lock, so parallel workers
never rewrite one list at once. The older papers whose lists changed are counted as `refreshed`.

This reverse update is the standard approximation of incremental k-NN graphs (HNSW's own insertion
works so): an older paper p whose true top k now holds n is missed when p is not among n's nearest
scanned (similarity is symmetric, rank is not: n can be among p's 10 nearest while p is only n's
200th). Scanning 8k instead of k for new papers catches most of those. tests/test_neighbors.py
measures it: 9,000 papers with lists, 993 more added and refreshed: the older papers' lists hold
99.7% of the rows a full rebuild gives them (91% without the reverse update; 96% when only the
new papers' top k are offered). `rebuild=True` recomputes everything as a first build does.

A rerun after an interrupted first build also runs the reverse update (the table is not empty):
it changes next to nothing there, as those lists were computed with every paper present, but the
wider scans make each paper cost about twice as much as in the first build.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from tqdm import tqdm

from app.core.connections import database_url
from app.core.settings import Settings

MAX_K = 100  # paper_neighbors.rank is checked to lie in 1..100
BATCHES_PER_WORKER = 4  # a small run gets smaller batches
REVERSE_WIDTH = 8  # an incremental run offers the 8k nearest of each new paper to the older lists
MERGE_LOCK_KEY = 0x6E6569676862  # pg_advisory_xact_lock key: one reverse update at a time ("neighb")

# The nearest `width` papers of each paper of a batch: one statement, one HNSW index scan per paper.
NEAREST_SQL = """
select p.id as paper_id, n.rank, n.id as neighbor_id, n.similarity
  from papers p
  cross join lateral (
        select s.id, (1 - s.distance)::real as similarity,
               row_number() over (order by s.distance, s.id) as rank
          from (select q.id, q.embedding <=> p.embedding as distance
                  from papers q
                 where q.embedding is not null
                 order by q.embedding <=> p.embedding
                 limit %(width)s + 1) s
         where s.id <> p.id
         order by s.distance, s.id
         limit %(width)s
  ) n
 where p.id = any(%(ids)s::bigint[]) and p.embedding is not null
"""
# A batch: its lists into a temp table, then their top k into paper_neighbors (see _run_batch). An
# incremental run keeps wider lists there (width = REVERSE_WIDTH * k) for the reverse update.
BATCH_SQL = "insert into batch_nearest (paper_id, rank, neighbor_id, similarity)" + NEAREST_SQL
INSERT_TOP_K_SQL = """
insert into paper_neighbors (paper_id, rank, neighbor_id, similarity)
select paper_id, rank, neighbor_id, similarity from batch_nearest where rank <= %(k)s
"""

# Reverse update, step 1: the pairs (n -> p) of this batch's wide lists that belong in p's list: p is
# an older paper (outside the batch) with a full list, n is not in it yet, and n beats p's k-th.
# older_kth (each worker's snapshot of every list's k-th similarity when the run began) sorts out
# the many pairs that cannot enter in one join; a k-th similarity only rises as lists take in new
# papers, so the snapshot lets through a superset, and the survivors are checked against the
# current list, probe by probe.
CANDIDATES_SQL = """
with beating as materialized (
    select f.paper_id as newcomer, f.neighbor_id as older, f.similarity
      from batch_nearest f
      join older_kth t on t.paper_id = f.neighbor_id
     where f.similarity > t.similarity
)
insert into neighbor_candidates (paper_id, neighbor_id, similarity)
select b.older, b.newcomer, b.similarity
  from beating b
 cross join lateral (select count(*) as listed,
                            min(o.similarity) filter (where o.rank <= %(k)s) as kth,
                            coalesce(bool_or(o.neighbor_id = b.newcomer), false) as present
                       from paper_neighbors o where o.paper_id = b.older) l
 where b.older <> all(%(ids)s::bigint[]) and l.listed >= %(expected)s and not l.present and b.similarity > l.kth
"""
OLDER_KTH_SQL = """
create temp table older_kth as
select paper_id, similarity from paper_neighbors where rank = %(k)s
"""

# Step 2: the current top k of the affected papers join their candidates (ord keeps the order of
# equal similarities); step 3: rewrite in place the ranks whose neighbour changed (only the ranks
# from the first newcomer on), and trim lists longer than k (left by an earlier, larger k).
CANDIDATES_WITH_CURRENT_SQL = """
insert into neighbor_candidates (paper_id, neighbor_id, similarity, ord)
select o.paper_id, o.neighbor_id, o.similarity, o.rank
  from paper_neighbors o
 where o.paper_id in (select paper_id from neighbor_candidates) and o.rank <= %(k)s
"""
UPDATE_MERGED_SQL = """
update paper_neighbors o
   set neighbor_id = m.neighbor_id, similarity = m.similarity
  from (select c.paper_id, c.neighbor_id, c.similarity,
               row_number() over (partition by c.paper_id order by c.similarity desc, c.ord, c.neighbor_id) as rank
          from neighbor_candidates c) m
 where o.paper_id = m.paper_id and o.rank = m.rank and m.rank <= %(k)s
   and (o.neighbor_id, o.similarity) is distinct from (m.neighbor_id, m.similarity)
"""
TRIM_MERGED_SQL = """
delete from paper_neighbors o
 using (select distinct paper_id from neighbor_candidates) a
 where o.paper_id = a.paper_id and o.rank > %(k)s
"""

# Papers with an embedding whose list is missing or shorter than `expected` rows.
TODO_SQL = """
select p.id
  from papers p
  left join (select paper_id, count(*) as listed from paper_neighbors group by paper_id) n on n.paper_id = p.id
 where p.embedding is not null
   and coalesce(n.listed, 0) < %(expected)s
 order by p.id
"""


@dataclass
class NeighborSummary:
    papers: int  # papers whose lists were computed
    rows: int  # rows written for them
    refreshed: int  # older papers whose lists took in a new paper (the reverse update)
    seconds: float

    @property
    def papers_per_second(self) -> float:
        return self.papers / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        return (
            f"neighbours: {self.papers} papers, {self.rows} rows, {self.refreshed} older lists refreshed "
            f"({self.seconds:.1f} s, {self.papers_per_second:,.0f} papers/s)"
        )


def _expected_rows(conn: psycopg.Connection, k: int) -> int:
    """Rows a complete list holds: k, or every other paper when there are fewer than k + 1."""
    embedded = conn.execute("select count(*) from papers where embedding is not null").fetchone()[0]
    return max(min(k, embedded - 1), 0)


def papers_missing_neighbors(conn: psycopg.Connection, k: int = 10) -> int:
    """Papers with an embedding whose neighbour list is missing (or short of k rows: cut by the trigger).

    What `compute_neighbors(k=k)` would compute; 0 means the table is up to date.
    """
    expected = _expected_rows(conn, k)
    if expected == 0:
        return 0
    return conn.execute(f"select count(*) from ({TODO_SQL}) t", {"expected": expected}).fetchone()[0]  # noqa: S608 - identifiers from this module's constants; values are bound parameters


def _session_ef_search(conn: psycopg.Connection) -> int:
    return int(conn.execute("select current_setting('hnsw.ef_search')").fetchone()[0])


def reverse_width(k: int) -> int:
    """How many nearest papers of a new paper are offered to the older papers' lists."""
    return REVERSE_WIDTH * k


def _batches(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


def _prepare_session(conn: psycopg.Connection, ef_search: int, k: int, reverse: bool) -> None:
    conn.execute(f"set hnsw.ef_search = {int(ef_search)}")
    conn.execute("set jit = off")  # compiling each batch's plan costs more than it saves
    conn.execute(
        "create temp table if not exists neighbor_candidates "
        "(paper_id bigint not null, neighbor_id bigint not null, similarity real not null, ord integer not null "
        "default 0) on commit delete rows"
    )
    conn.execute(
        "create temp table if not exists batch_nearest (paper_id bigint not null, rank bigint not null, "
        "neighbor_id bigint not null, similarity real not null) on commit delete rows"
    )
    if reverse:
        conn.execute(OLDER_KTH_SQL, {"k": k})
        conn.execute("alter table older_kth add primary key (paper_id)")
        conn.execute("analyze older_kth")
    conn.commit()


def _run_batch(
    conn: psycopg.Connection, ids: list[int], k: int, expected: int, reverse: bool
) -> tuple[int, list[int]]:
    """Compute and commit the lists of one batch; returns (rows written, older papers refreshed)."""
    with conn.cursor() as cur:
        cur.execute(BATCH_SQL, {"ids": ids, "width": reverse_width(k) if reverse else k})
        if reverse:  # batches that rewrite older lists take turns from here to their commit
            cur.execute("select pg_advisory_xact_lock(%s)", [MERGE_LOCK_KEY])
        cur.execute("delete from paper_neighbors where paper_id = any(%s::bigint[])", [ids])  # short lists only
        cur.execute(INSERT_TOP_K_SQL, {"k": k})
        rows = cur.rowcount
        refreshed: list[int] = []
        if reverse:
            cur.execute(CANDIDATES_SQL, {"ids": ids, "k": k, "expected": expected})
            if cur.rowcount:
                refreshed = [r[0] for r in cur.execute("select distinct paper_id from neighbor_candidates")]
                cur.execute("analyze neighbor_candidates")  # the joins below: index probes, not a table scan
                cur.execute(CANDIDATES_WITH_CURRENT_SQL, {"k": k})
                cur.execute(UPDATE_MERGED_SQL, {"k": k})
                cur.execute(TRIM_MERGED_SQL, {"k": k})
    conn.commit()
    return rows, refreshed


def compute_neighbors(
    settings: Settings,
    *,
    k: int | None = None,
    batch_size: int = 2000,
    workers: int = 2,
    ef_search: int | None = None,
    progress: bool = False,
    rebuild: bool = False,
    limit: int | None = None,
) -> NeighborSummary:
    """Fill paper_neighbors for the papers that lack a (complete) list; see the module docstring.

    `limit`: at most this many papers (the lowest ids first); the others keep waiting for a later run.
    """
    k = settings.neighbors_k if k is None else k
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
    if batch_size < 1 or workers < 1:
        raise ValueError("batch_size and workers must be at least 1")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    started = time.monotonic()
    url = database_url(settings)
    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass('papers_embedding_hnsw')").fetchone()[0] is None:
            # Without it every paper's scan would read and sort the whole table.
            raise RuntimeError("the HNSW index papers_embedding_hnsw is missing: run `atlas db upgrade`")
        if rebuild:
            conn.execute("truncate paper_neighbors")
            conn.commit()
        expected = _expected_rows(conn, k)
        # New lists change older ones only when older ones exist before this run.
        reverse = not rebuild and conn.execute("select exists (select 1 from paper_neighbors)").fetchone()[0]
        todo = [row[0] for row in conn.execute(TODO_SQL, {"expected": expected})] if expected else []
        todo = todo[:limit] if limit is not None else todo
        # A scan returns at most ef_search rows: never fewer than the list it must fill.
        ef = max(_session_ef_search(conn) if ef_search is None else ef_search, (reverse_width(k) if reverse else k) + 1)
        conn.commit()
    if not todo:
        return NeighborSummary(0, 0, 0, time.monotonic() - started)

    # At least BATCHES_PER_WORKER batches a worker, so that none is left alone with the last one.
    batch_size = min(batch_size, -(-len(todo) // (BATCHES_PER_WORKER * workers)))
    batches = _batches(todo, batch_size)
    take = threading.Lock()
    stop = threading.Event()
    bar = tqdm(total=len(todo), unit="paper", desc="neighbours", disable=not progress)

    def work() -> tuple[int, int, set[int]]:
        done = rows = 0
        refreshed: set[int] = set()
        try:
            with psycopg.connect(url) as wconn:
                _prepare_session(wconn, ef, k, reverse)
                while not stop.is_set():
                    with take:
                        batch = next(batches, None)
                    if batch is None:
                        break
                    batch_rows, batch_refreshed = _run_batch(wconn, batch, k, expected, reverse)
                    done, rows = done + len(batch), rows + batch_rows
                    refreshed.update(batch_refreshed)
                    with take:
                        bar.update(len(batch))
        except BaseException:
            stop.set()  # the other workers finish their batch and stop
            raise
        return done, rows, refreshed

    threads = min(workers, -(-len(todo) // batch_size))
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="neighbors") as pool:
            futures = [pool.submit(work) for _ in range(threads)]
            try:
                results = [future.result() for future in futures]
            except BaseException:
                stop.set()
                raise
    finally:
        bar.close()
    return NeighborSummary(
        papers=sum(r[0] for r in results), rows=sum(r[1] for r in results),
        refreshed=len(set().union(*(r[2] for r in results))), seconds=time.monotonic() - started,
    )
