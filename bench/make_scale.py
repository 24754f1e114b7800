"""A deterministic scale set of the seed's size, made from the real 100k sample and loaded with `atlas load`.

    .venv/bin/python bench/make_scale.py [--papers 1200000] [--database atlas_scale] [--no-map] [--files-only]

Writes `arxiv-scale-<papers>.jsonl` and `arxiv-scale-<papers>.all-MiniLM-L6-v2.f16.npy` (aligned
row by row) into $ATLAS_DATA_DIR/scale/ (kept: the same --papers gives the same bytes, so a
second run reuses them), loads them into the database --database on the configured server
(the embedded one, or DATABASE_URL's) through the normal `atlas load` path, and builds the
all-papers map (projection, tiles, topics). The database is kept: serve it with
`ATLAS_DB_NAME=atlas_scale atlas serve` (embedded server) or point DATABASE_URL at it.

How the set is made (seeded, so it is the same on every machine):
- rows 1..99,742 are the 100k sample's real lines and real vectors (all of them when --papers is
  at least that; its first --papers lines otherwise);
- every further row copies one real row drawn uniformly with replacement (metadata and text as
  they are: title, abstract, authors, categories, dates) under a new id, 2001.00001 onwards (after
  the sample's last month, so no copy collides with a real id), and gets the vector of that row
  plus Gaussian noise (sigma SIGMA per dimension, then re-normalised).
- SIGMA = 0.045 puts a copy at cosine similarity ~0.75 from its source row. Measured on the real
  vectors, the median similarity of a paper to its nearest neighbour grows by ~0.077 per tenfold
  corpus (0.598 at 10k, 0.635 at 30k, 0.675 at 100k), which extrapolates to ~0.76 at 1.2M: so the
  copies sit where a real 1.2M corpus's nearest neighbours would, not as tight clumps (sigma 0.02
  would put them at 0.93, far closer than any real pair), and a query's top 10 mixes copies and
  real neighbours.
bench/map_scale.py and bench/ann.py draw their vectors with the same functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402

from app.core.connections import database_url, url_with_database  # noqa: E402
from app.core.migrate import upgrade_database  # noqa: E402
from app.core.settings import Settings, get_settings  # noqa: E402

COPY_BLOCK = 100_000
SEED_PAPERS = 1_238_980  # the seed's full dataset
REAL_SAMPLE = "arxiv-100k"
MODEL_SUFFIX = "all-MiniLM-L6-v2.f16"
SIGMA = 0.045
VECTOR_SEED = 7
QUERY_SEED = 8
NUMBERS_PER_MONTH = 99_999  # new-style ids from 1501 on: YYMM.NNNNN
FIRST_SYNTHETIC_MONTH = (20, 1)  # 2001: the real sample ends in 2019-12


@dataclass(frozen=True)
class ScaleFiles:
    source: Path
    embeddings: Path


def real_vectors(settings: Settings | None = None) -> np.ndarray:
    settings = settings or get_settings()
    path = settings.shared_data_dir / f"{REAL_SAMPLE}.{MODEL_SUFFIX}.npy"
    return np.load(path).astype(np.float32)


def _around(real: np.ndarray, rows: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    block = real[rows] + rng.normal(0, sigma, (len(rows), real.shape[1])).astype(np.float32)
    return block / np.linalg.norm(block, axis=1, keepdims=True)


def synthetic_vectors(
    papers: int, seed: int = VECTOR_SEED, sigma: float = SIGMA, real: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(vectors float32 (papers, 384), source row of each): the real vectors, then copies around them."""
    real = real_vectors() if real is None else real
    out = np.empty((papers, real.shape[1]), dtype=np.float32)
    sources = np.empty(papers, dtype=np.int64)
    head = min(papers, len(real))
    out[:head] = real[:head]
    sources[:head] = np.arange(head)
    # Every block of COPY_BLOCK copies draws from generators of its own (one for the rows, one for the
    # noise), so a set is a prefix of every larger one: bench/update.py's base database (the first
    # --papers rows of papers + new) is the scale set of bench/scale.py, row for row.
    for block, start in enumerate(range(len(real), papers, COPY_BLOCK)):
        stop = min(start + COPY_BLOCK, papers)
        rows = np.random.default_rng([seed, block, 0]).integers(0, len(real), stop - start)
        sources[start:stop] = rows
        out[start:stop] = _around(real, rows, np.random.default_rng([seed, block, 1]), sigma)
    return out, sources


def held_out_queries(count: int = 1000, seed: int = QUERY_SEED, real: np.ndarray | None = None) -> np.ndarray:
    """`count` query vectors drawn like the copies (another seed): from the set's distribution, not in it."""
    real = real_vectors() if real is None else real
    rng = np.random.default_rng(seed)
    return _around(real, rng.integers(0, len(real), count), rng, SIGMA)


def synthetic_arxiv_id(copy_number: int) -> str:
    """0 -> 2001.00001, 99,999 -> 2002.00001, ...: new-style ids after the real sample's last month."""
    month, number = divmod(copy_number, NUMBERS_PER_MONTH)
    yy, mm = FIRST_SYNTHETIC_MONTH[0] + (FIRST_SYNTHETIC_MONTH[1] - 1 + month) // 12, (month % 12) + 1
    return f"{yy:02d}{mm:02d}.{number + 1:05d}"


def scale_folder(settings: Settings) -> Path:
    return settings.data_dir / "scale"


def scale_files(settings: Settings, papers: int) -> ScaleFiles:
    folder = scale_folder(settings)
    stem = f"arxiv-scale-{papers}"
    return ScaleFiles(folder / f"{stem}.jsonl", folder / f"{stem}.{MODEL_SUFFIX}.npy")


def _copy_line(line: str, arxiv_id: str, new_id: str) -> str:
    prefix = f'{{"arxiv_id": "{arxiv_id}"'
    if line.startswith(prefix):  # the sample's lines all start so: skip a JSON round trip
        return f'{{"arxiv_id": "{new_id}"' + line[len(prefix):]
    obj = json.loads(line)
    obj["arxiv_id"] = new_id
    return json.dumps(obj, ensure_ascii=False)


def write_scale_set(settings: Settings, papers: int) -> ScaleFiles:
    """Write (or reuse) the scale set of `papers` rows; see the module docstring."""
    import gzip

    files = scale_files(settings, papers)
    if files.source.exists() and files.embeddings.exists():
        return files
    files.source.parent.mkdir(parents=True, exist_ok=True)
    real = real_vectors(settings)
    with gzip.open(settings.shared_data_dir / f"{REAL_SAMPLE}.jsonl.gz", "rt", encoding="utf-8") as stream:
        lines = [line.rstrip("\n") for line in stream if line.strip()]
    if len(lines) != len(real):
        raise RuntimeError(f"{REAL_SAMPLE}: {len(lines)} lines but {len(real)} vectors")
    ids = [json.loads(line).get("arxiv_id") for line in lines]
    vectors, sources = synthetic_vectors(papers, real=real)
    partial_source = files.source.with_suffix(".partial")
    with partial_source.open("w", encoding="utf-8") as out:
        for row, source in enumerate(sources.tolist()):
            if row < len(lines):
                out.write(lines[row])
            else:
                out.write(_copy_line(lines[source], str(ids[source]), synthetic_arxiv_id(row - len(lines))))
            out.write("\n")
    partial_npy = files.embeddings.with_name(files.embeddings.name + ".partial")
    with partial_npy.open("wb") as out:
        np.save(out, vectors.astype(np.float16))
    Path(partial_npy).replace(files.embeddings)
    Path(partial_source).replace(files.source)
    return files


def kept_database(name: str) -> Settings:
    """Settings for database `name` on the configured server (created and migrated when missing)."""
    base = get_settings()
    url = url_with_database(base.database_url or database_url(base), name)
    with psycopg.connect(url_with_database(url, "postgres"), autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is None:
            conn.execute(f'create database "{name}"')
    # The roles' passwords of the server (for the embedded one, its data dir's), so that the upgrade
    # grants them this database and the API can be served as atlas_api (`api_database_url`).
    from app.core import roles

    passwords = {f"{role}_password": getattr(roles, f"{role}_password")(base) or getattr(base, f"{role}_password")
                 for role in ("reader", "api", "etl", "sql")}
    settings = dataclasses.replace(base, database_url=url, **passwords)
    upgrade_database(settings, roles=True)
    return settings


def load_scale_set(settings: Settings, files: ScaleFiles, progress: bool = False):  # -> LoadSummary
    from etl.load import LoadOptions, load_sources

    return load_sources(settings, LoadOptions([files.source], embeddings=files.embeddings, progress=progress))


def build_all_papers_map(settings: Settings):  # -> MapBuildSummary
    from etl.maps.build import build_map
    from etl.maps.definitions import ALL_PAPERS, MapSpec

    return build_map(settings, MapSpec(ALL_PAPERS, "All papers"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=1_200_000)
    parser.add_argument("--database", default="atlas_scale", help="database to create (or reuse) and keep")
    parser.add_argument("--no-map", action="store_true", help="load only; no all-papers map")
    parser.add_argument("--files-only", action="store_true", help="write the files; touch no database")
    args = parser.parse_args()
    settings = get_settings()
    started = time.monotonic()
    files = write_scale_set(settings, args.papers)
    print(f"scale set: {files.source} + {files.embeddings.name} ({time.monotonic() - started:.0f} s)", flush=True)
    if args.files_only:
        return
    target = kept_database(args.database)
    summary = load_scale_set(target, files, progress=True)
    print(f"load: {summary.describe()}", flush=True)
    if summary.loaded == 0 and summary.updated == 0:
        print(f"(database {args.database} already held this set)")
    if not args.no_map:
        built = build_all_papers_map(target)
        print(built.describe(), flush=True)
    print(f"done in {time.monotonic() - started:.0f} s; the database {args.database} is kept "
          f"(embedded server: ATLAS_DB_NAME={args.database} atlas serve)")


if __name__ == "__main__":
    main()
