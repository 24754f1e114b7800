"""`atlas load` into a real PostgreSQL: every format, idempotence, revisions, rejects, and the
untouched-database guarantee for structural errors."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sample_formats import (
    KAGGLE_COLUMNS,
    Sample,
    kaggle_csv_cells,
    kaggle_row,
    seed_frame,
    write_csv,
    write_lines,
)

from app.core.records import StructuralError
from app.core.settings import Settings
from app.core.space import SpaceMismatchError
from etl.load import LoadOptions, LoadSummary, load_sources, model_from_filename

REPO = Path(__file__).resolve().parent.parent



def load(settings: Settings, *sources: Path, **options) -> LoadSummary:
    summary = load_sources(settings, LoadOptions(sources=list(sources), progress=False, **options))
    assert summary.rows_in == summary.loaded + summary.updated + summary.unchanged + summary.rejected
    return summary


def checksum(settings: Settings) -> tuple:
    """Everything a load may touch, so that 'unchanged' can be proven."""
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(
            """
            select (select md5(coalesce(string_agg(p::text, '|' order by arxiv_id), '')) from papers p),
                   (select count(*) from embedding_space), (select count(*) from seed_map_coordinates),
                   (select count(*) from load_runs)
            """
        ).fetchone()


def query(settings: Settings, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(sql, params).fetchall()


def jsonl_file(sample: Sample, path: Path) -> Path:
    return write_lines(path, [json.dumps(r) for r in sample.rows])


# ---- every format, into the database --------------------------------------------------------
def test_seed_pickle_loads_every_column_its_vectors_and_map_coordinates(
    db: Settings, sample: Sample, tmp_path: Path
) -> None:
    frame = seed_frame(sample)
    path = tmp_path / "arxiv_cs.pkl"
    frame.to_pickle(path)
    summary = load(db, path)
    assert (summary.loaded, summary.rejected) == (len(frame), 0)

    row = frame.iloc[0]
    stored = query(db, "select title, main_category, categories, revision, published, authors, journal_ref, "
                       "arxiv_doi, arxiv_year, arxiv_number from papers where arxiv_id = %s", (row.arxiv_id,))[0]
    assert stored[0] == row.title and stored[1] == row.main_category and stored[2] == list(row.categories)
    assert stored[3] == int(row.revision)
    assert stored[4].replace(tzinfo=None) == row.published.to_pydatetime() and stored[4].utcoffset().seconds == 0
    assert stored[5] == list(row.authors)
    assert stored[6] is None  # the seed's "<NA>"
    assert stored[7] is None if row.arxiv_DOI == "<NA>" else stored[7] == row.arxiv_DOI
    assert (stored[8], stored[9]) == (row.arxiv_year, row.arxiv_number)

    space = query(db, "select model, native_dimensions, projection from embedding_space")
    assert space == [("text-embedding-3-large", 256, "none")]
    assert query(db, "select count(*), count(embedding) from papers") == [(len(frame), len(frame))]
    coordinates = query(db, "select dataset, count(*) from seed_map_coordinates group by dataset")
    assert coordinates == [("arxiv_cs", len(frame))]
    x = query(db, "select c.x from seed_map_coordinates c join papers p on p.id = c.paper_id "
                  "where p.arxiv_id = %s", (row.arxiv_id,))[0][0]
    assert x == pytest.approx(float(row.x_umap))
    # the stored vector is the seed's float16 vector, normalised
    vector = np.array(query(db, "select embedding::real[] from papers where arxiv_id = %s", (row.arxiv_id,))[0][0])
    expected = row.abstract_embedding.astype(np.float32)
    assert float(vector @ expected / np.linalg.norm(expected)) == pytest.approx(1.0, abs=1e-3)


def test_kaggle_json_and_csv_load_with_repaired_ids_and_revisions(
    db: Settings, sample: Sample, tmp_path: Path
) -> None:
    kaggle = write_lines(tmp_path / "snapshot.json.gz", [json.dumps(kaggle_row(r)) for r in sample.rows[:100]])
    first = load(db, kaggle)
    assert first.loaded == 100
    with_update = next(r for r in sample.rows[:100] if r["updated"])
    assert query(db, "select revision, updated::date::text from papers where arxiv_id = %s",
                 (with_update["arxiv_id"],)) == [(2, with_update["updated"])]

    # the other rows as a CSV made by a spreadsheet: ids turned into numbers (0704.0010 -> 704.001)
    rows = [kaggle_row(r) for r in sample.rows[100:]]
    path, _ = write_csv(tmp_path / "snapshot.csv", KAGGLE_COLUMNS, [kaggle_csv_cells(r) for r in rows])
    assert any(cells[0] != r["id"] for cells, r in zip([kaggle_csv_cells(r) for r in rows], rows, strict=True))
    second = load(db, path)
    assert (second.loaded, second.rejected) == (len(rows), 0)
    ids = {r[0] for r in query(db, "select arxiv_id from papers")}
    assert ids == {r["arxiv_id"] for r in sample.rows}


def test_parquet_loads(db: Settings, sample: Sample, tmp_path: Path) -> None:
    columns = {key: [r[key] for r in sample.rows] for key in sample.rows[0]}
    path = tmp_path / "papers.parquet"
    pq.write_table(pa.table(columns), path)
    summary = load(db, path)
    assert summary.loaded == len(sample.rows)
    assert query(db, "select count(*) from papers where categories @> array[main_category]") == [
        (len(sample.rows),)
    ]


def test_the_real_sample_loads_with_its_one_unrepairable_row_reported(loaded_10k: Settings) -> None:
    runs = query(loaded_10k, "select rows_in, loaded, unchanged, rejected, reject_report from load_runs")
    assert len(runs) == 1
    rows_in, loaded, unchanged, rejected, report = runs[0]
    assert (rows_in, loaded, unchanged, rejected) == (9993, 9992, 0, 1)
    with open(report, newline="") as handle:
        rejects = list(csv.DictReader(handle))
    assert rejects == [{
        "file": str(loaded_10k.shared_data_dir / "arxiv-10k.jsonl.gz"), "line": "7177", "field": "arxiv_id",
        "value": "1907.0658", "reason": rejects[0]["reason"],
    }]
    assert "date" in rejects[0]["reason"]


# ---- idempotence and revisions --------------------------------------------------------------
def test_reloading_the_same_file_changes_nothing(db: Settings, sample: Sample, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "k.json", [json.dumps(kaggle_row(r)) for r in sample.rows])
    first = load(db, path)
    assert first.indexes_rebuilt and first.loaded == len(sample.rows)
    before = checksum(db)
    again = load(db, path)
    assert (again.loaded, again.updated, again.unchanged) == (0, 0, len(sample.rows))
    assert not again.indexes_rebuilt
    after = checksum(db)
    assert after[:3] == before[:3] and after[3] == before[3] + 1  # only the load log grew
    indexes = {r[0] for r in query(db, "select indexname from pg_indexes where tablename = 'papers'")}
    assert {"papers_embedding_hnsw", "papers_search_tsv", "papers_main_category", "papers_archive",
            "papers_published"} <= indexes


def test_the_newer_revision_wins(db: Settings, sample: Sample, tmp_path: Path) -> None:
    rows = [kaggle_row(r) for r in sample.rows[:20]]
    original = write_lines(tmp_path / "v-old.json", [json.dumps(r) for r in rows])
    load(db, original)
    newer = [dict(r) for r in rows]
    newer[0]["versions"] = [*rows[0]["versions"], {"version": "v7", "created": "Mon, 2 Mar 2020 10:00:00 GMT"}]
    newer[0]["title"] = "A corrected title"
    updated = load(db, write_lines(tmp_path / "v-new.json", [json.dumps(r) for r in newer]))
    assert (updated.updated, updated.unchanged) == (1, 19)
    assert query(db, "select title, revision from papers where arxiv_id = %s", (rows[0]["id"],)) == [
        ("A corrected title", 7)
    ]
    stale = load(db, original)  # an older revision arrives later: it does not win
    assert (stale.updated, stale.unchanged) == (0, 20)
    assert query(db, "select title from papers where arxiv_id = %s", (rows[0]["id"],)) == [("A corrected title",)]


def test_a_new_text_without_a_new_vector_clears_the_stale_vector(
    db: Settings, sample: Sample, tmp_path: Path, shared_data: Path
) -> None:
    lines = [json.dumps(r) for r in sample.rows[:300]]
    vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")
    # sample.rows are not all consecutive lines of the file: take each row's own vector by id
    index = {json.loads(line)["arxiv_id"]: i for i, line in enumerate(gzip.open(shared_data / "arxiv-10k.jsonl.gz",
                                                                            "rt"))}
    np.save(tmp_path / "v.npy", np.stack([vectors[index[r["arxiv_id"]]] for r in sample.rows[:300]]))
    load(db, write_lines(tmp_path / "a.jsonl", lines), embeddings=tmp_path / "v.npy",
         embedding_model="all-MiniLM-L6-v2")
    changed = json.loads(lines[0])
    changed["abstract"] = changed["abstract"] + " (Revised abstract.)"
    summary = load(db, write_lines(tmp_path / "b.jsonl", [json.dumps(changed)]))
    assert summary.updated == 1
    assert query(db, "select embedding is null from papers where arxiv_id = %s", (changed["arxiv_id"],)) == [(True,)]
    assert query(db, "select count(embedding) from papers") == [(len(lines) - 1,)]


# ---- rejects -------------------------------------------------------------------------------
def test_bad_rows_are_rejected_reported_and_counted(db: Settings, sample: Sample, tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in sample.rows[:10]]
    lines[2] = '{"arxiv_id": "0705.9999", "title": '  # broken JSON on line 3
    no_title = dict(sample.rows[5], title="   ")
    lines[5] = json.dumps(no_title)  # line 6
    lines.append(json.dumps(sample.rows[0]))  # the same paper again on line 11: it wins, line 1 is rejected
    summary = load(db, write_lines(tmp_path / "bad.jsonl", lines))
    assert (summary.rows_in, summary.loaded, summary.rejected) == (11, 8, 3)
    with open(summary.reject_report, newline="") as handle:
        report = {(row["line"], row["field"]): row for row in csv.DictReader(handle)}
    assert set(report) == {("3", "<line>"), ("6", "title"), ("1", "arxiv_id")}
    assert report[("1", "arxiv_id")]["file"].endswith("bad.jsonl")
    assert "bad.jsonl:11" in report[("1", "arxiv_id")]["reason"]
    assert query(db, "select rows_in, loaded, rejected from load_runs") == [(11, 8, 3)]


# ---- structural errors leave the database untouched ------------------------------------------
@pytest.fixture
def populated(db: Settings, sample: Sample, tmp_path: Path, shared_data: Path) -> tuple[Settings, tuple]:
    """A database holding 100 papers with MiniLM vectors (space: PCA 384 -> 256)."""
    lines = []
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt") as handle:
        for line in handle:
            lines.append(line.rstrip("\n"))
            if len(lines) == 400:
                break
    vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[:400]
    np.save(tmp_path / "base.npy", np.asarray(vectors))
    load(db, write_lines(tmp_path / "base.jsonl", lines), embeddings=tmp_path / "base.npy",
         embedding_model="all-MiniLM-L6-v2")
    return db, checksum(db)


def test_npy_with_the_wrong_row_count_changes_nothing(populated, sample: Sample, tmp_path: Path) -> None:
    db, before = populated
    np.save(tmp_path / "short.npy", np.zeros((len(sample.rows) - 1, 384), dtype=np.float16))
    with pytest.raises(StructuralError, match=r"short.npy: \d+ vectors for \d+ rows"):
        load(db, jsonl_file(sample, tmp_path / "new.jsonl"), embeddings=tmp_path / "short.npy",
             embedding_model="all-MiniLM-L6-v2")
    assert checksum(db) == before


def test_vectors_of_another_width_or_model_are_refused(populated, sample: Sample, tmp_path: Path) -> None:
    db, before = populated
    np.save(tmp_path / "wide.npy", np.ones((len(sample.rows), 512), dtype=np.float16))
    with pytest.raises(SpaceMismatchError, match="384 dimensions.*512 dimensions"):
        load(db, jsonl_file(sample, tmp_path / "new.jsonl"), embeddings=tmp_path / "wide.npy",
             embedding_model="all-MiniLM-L6-v2")
    seed = tmp_path / "seed.pkl"
    seed_frame(sample).to_pickle(seed)  # 256-d text-embedding-3-large vectors
    with pytest.raises(SpaceMismatchError, match="text-embedding-3-large"):
        load(db, seed)
    assert checksum(db) == before


def test_a_file_damaged_midway_rolls_the_whole_load_back(populated, sample: Sample, tmp_path: Path) -> None:
    db, before = populated
    data = gzip.compress(("\n".join(json.dumps(r) for r in sample.rows * 40) + "\n").encode())
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(data[: len(data) * 2 // 3])  # truncated gzip: rows before the damage parse fine
    with pytest.raises(StructuralError, match="damaged.jsonl.gz"):
        load(db, damaged)
    not_gzip = tmp_path / "fake.jsonl.gz"
    not_gzip.write_text(json.dumps(sample.rows[0]))
    with pytest.raises(StructuralError, match="fake.jsonl.gz"):
        load(db, not_gzip)
    assert checksum(db) == before


def test_atlas_load_exits_non_zero_on_a_structural_error(populated, sample: Sample, tmp_path: Path) -> None:
    db, before = populated
    np.save(tmp_path / "short.all-MiniLM-L6-v2.npy", np.zeros((3, 384), dtype=np.float16))
    env = {**os.environ, "DATABASE_URL": db.database_url, "ATLAS_DATA_DIR": str(db.data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "load", str(jsonl_file(sample, tmp_path / "n.jsonl")),
         "--embeddings", str(tmp_path / "short.all-MiniLM-L6-v2.npy")],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    assert result.returncode == 1
    assert "must align row by row" in result.stderr and "Traceback" not in result.stderr
    assert checksum(db) == before


def test_model_names_from_embedding_file_names() -> None:
    assert model_from_filename(Path("arxiv-10k.all-MiniLM-L6-v2.f16.npy")) == "sentence-transformers/all-MiniLM-L6-v2"
    assert model_from_filename(Path("cs.text-embedding-3-large.npy")) == "text-embedding-3-large"
    assert model_from_filename(Path("vectors.npy")) is None


def test_vectors_inside_a_source_need_their_model_named_unless_they_are_the_seeds(
    db: Settings, sample: Sample, tmp_path: Path
) -> None:
    frame = seed_frame(sample)
    frame["abstract_embedding"] = [np.ones(384, dtype=np.float16) for _ in range(len(frame))]
    path = tmp_path / "wide.parquet"
    table = pa.table({
        "arxiv_id": list(frame.arxiv_id), "title": list(frame.title), "abstract": list(frame.abstract),
        "main_category": list(frame.main_category), "categories": list(frame.categories),
        "abstract_embedding": [v.astype(np.float32).tolist() for v in frame.abstract_embedding],
    })
    pq.write_table(table, path)
    before = checksum(db)
    with pytest.raises(StructuralError, match="384 dimensions.*--embedding-model"):
        load(db, path)
    assert checksum(db) == before
    summary = load(db, path, embedding_model="all-MiniLM-L6-v2")
    assert summary.loaded == len(frame)
    assert query(db, "select model, native_dimensions, projection from embedding_space") == [
        ("sentence-transformers/all-MiniLM-L6-v2", 384, "pca")
    ]


# ---- the full-text vector (computed in parallel by the loader, sql/idempotent/010-text.sql) ------
STAGING_TABLES = "select count(*) from pg_class where starts_with(relname, 'load_staging_')"
TSV_MISMATCHES = ("select count(*) from papers "
                  "where search_tsv is distinct from paper_search_tsv(title, authors, abstract)")


def test_loaded_full_text_vectors_equal_the_sql_function_and_staging_is_gone(
    db: Settings, sample: Sample, tmp_path: Path
) -> None:
    rows = [kaggle_row(r) for r in sample.rows]
    load(db, write_lines(tmp_path / "k.json", [json.dumps(r) for r in rows]))
    assert query(db, TSV_MISMATCHES) == [(0,)]
    assert query(db, "select count(*) from papers where search_tsv is null or search_tsv = ''::tsvector") == [(0,)]
    # an update through the loader brings its own new vector
    changed = dict(rows[0], title="Quasicrystalline zebrafish lattices", versions=[
        *rows[0]["versions"], {"version": "v9", "created": "Mon, 2 Mar 2020 10:00:00 GMT"}])
    assert load(db, write_lines(tmp_path / "k2.json", [json.dumps(changed)])).updated == 1
    assert query(db, TSV_MISMATCHES) == [(0,)]
    found = query(db, "select arxiv_id from search_papers_by_text('zebrafish quasicrystalline', 5)")
    assert found == [(rows[0]["id"],)]
    assert query(db, STAGING_TABLES) == [(0,)]


def test_other_writers_get_the_full_text_vector_from_the_trigger(db: Settings) -> None:
    with psycopg.connect(db.database_url) as conn:
        conn.execute(
            "insert into papers (arxiv_id, title, abstract, main_category, authors) "
            "values ('2401.00001', 'Tensor networks for lattice gauge theory', 'We simulate gluons.', "
            "'hep-lat', array['Ada Lovelace'])"
        )
        assert conn.execute(TSV_MISMATCHES).fetchone() == (0,)
        assert conn.execute("select search_tsv @@ 'gluon'::tsquery and search_tsv @@ 'lovelac'::tsquery "
                            "from papers").fetchone() == (True,)
        conn.execute("update papers set abstract = 'We simulate quarks.'")
        assert conn.execute(TSV_MISMATCHES).fetchone() == (0,)
        assert conn.execute("select search_tsv @@ 'quark'::tsquery, search_tsv @@ 'gluon'::tsquery "
                            "from papers").fetchone() == (True, False)
        conn.execute("update papers set embedding = null")  # not a text column: the vector stays as it is
        assert conn.execute(TSV_MISMATCHES).fetchone() == (0,)


def test_a_failed_load_leaves_no_staging_table(populated, sample: Sample, tmp_path: Path) -> None:
    db, before = populated
    damaged = tmp_path / "damaged.jsonl.gz"
    data = gzip.compress(("\n".join(json.dumps(r) for r in sample.rows * 10) + "\n").encode())
    damaged.write_bytes(data[: len(data) // 2])
    with pytest.raises(StructuralError):
        load(db, damaged)
    assert query(db, STAGING_TABLES) == [(0,)]
    assert checksum(db) == before
