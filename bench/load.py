"""Load throughput and HNSW build time on a real sample (default: the 100k sample).

    .venv/bin/python bench/load.py [--sample arxiv-100k] [--no-write]

Loads the sample with its embeddings into a scratch database through the normal `atlas load`
path, reloads it (nothing changes), then rebuilds the HNSW index with 0, 1 and 2 parallel
maintenance workers (the leader builds too), one after another. Prints the figures and writes
them to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bench.report import maintenance_workers_text, table, write_section  # noqa: E402
from bench.scratch_db import scratch_database  # noqa: E402
from etl.load import LoadOptions, embeddings_beside, load_sources  # noqa: E402


def rebuild_hnsw(url: str, workers: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        definition = conn.execute("select pg_get_indexdef('papers_embedding_hnsw'::regclass)").fetchone()[0]
        conn.execute("drop index papers_embedding_hnsw")
        conn.execute(f"set max_parallel_maintenance_workers = {workers}")
        started = time.monotonic()
        conn.execute(definition)
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", default="arxiv-100k", help="stem of a sample in ATLAS_SHARED_DATA")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    with scratch_database() as settings:
        source = settings.shared_data_dir / f"{args.sample}.jsonl.gz"
        options = LoadOptions(sources=[source], embeddings=embeddings_beside(source), progress=False)
        first = load_sources(settings, options)
        print("first load:", first.describe())
        again = load_sources(settings, options)
        print("reload:    ", again.describe())
        with psycopg.connect(settings.database_url) as conn:
            table_size = conn.execute("select pg_size_pretty(pg_table_size('papers'))").fetchone()[0]
            index_size = conn.execute(
                "select pg_size_pretty(pg_relation_size('papers_embedding_hnsw'))"
            ).fetchone()[0]
            mwm = conn.execute("show maintenance_work_mem").fetchone()[0]
            workers = int(conn.execute("show max_parallel_maintenance_workers").fetchone()[0])
        rebuilds = {n: rebuild_hnsw(settings.database_url, n) for n in (0, 1, 2)}

    rows_per_s = first.rows_in / first.seconds
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in first.timings.items())
    serial = rebuilds[0]
    print("HNSW rebuild: " + ", ".join(f"{n} workers {s:.1f} s" for n, s in rebuilds.items()))
    body = table(
        ["measure", "value"],
        [
            ["rows in the sample", f"{first.rows_in:,}"],
            ["first load into an empty table (parse, COPY, merge, indexes, ANALYZE)",
             f"{first.seconds:.1f} s = **{rows_per_s:,.0f} rows/s**"],
            ["phases of the first load", phases],
            ["reload of the same file (all rows unchanged)",
             f"{again.seconds:.1f} s = {again.rows_in / again.seconds:,.0f} rows/s; "
             f"{again.loaded} loaded, {again.updated} updated, {again.unchanged} unchanged, "
             f"{again.rejected} rejected"],
            [f"HNSW build, halfvec(256), m=16, ef_construction=64, {maintenance_workers_text(0)}", f"{serial:.1f} s"],
            *[[f"HNSW build, same, {maintenance_workers_text(n)}", f"{s:.1f} s (x{serial / s:.2f} faster)"]
              for n, s in rebuilds.items() if n],
            ["papers table / HNSW index size", f"{table_size} / {index_size}"],
            ["maintenance_work_mem; max_parallel_maintenance_workers (the load's builds)", f"{mwm}; {workers}"],
        ],
    )
    body += (
        "\n\nReading: `read + copy` is Python parsing gzip JSON lines and feeding COPY (FORMAT BINARY) "
        "into a staging table; vectors are projected with numpy and sent as one binary COPY stream "
        "(`embeddings`). `full-text vectors` is one parallel query (CREATE TABLE AS, 2 workers) computing "
        "paper_search_tsv, the English tsvector of title, authors and abstract, for every staging row; "
        "`merge` drops duplicates and unchanged rows from staging, then one INSERT ... ON CONFLICT writes "
        "the papers (heap, TOAST and WAL). Into an empty table the secondary indexes are built after the "
        f"rows are in, inside the same transaction (`indexes`: HNSW, then GIN and B-trees, each with "
        f"{maintenance_workers_text(workers)}). A reload first deletes "
        "from staging every row equal to the stored one, so it computes "
        "no tsvector and writes no paper."
    )
    print(body)
    if not args.no_write:
        write_section(f"Load: {args.sample} sample", body)


if __name__ == "__main__":
    main()
