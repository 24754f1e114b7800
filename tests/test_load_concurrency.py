"""Two loads at once (issue 17): an older revision never replaces a newer one, whatever the order in
which the loads commit; reloading the same papers from another file changes nothing."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest
from sample_formats import Sample, kaggle_row, write_lines

from app.core.settings import Settings
from app.core.space import fit_space
from etl.load import LoadOptions, LoadSummary, load_sources

NEWER_DATE = "Mon, 2 Mar 2020 10:00:00 GMT"


def revision_file(path: Path, rows: list[dict], revision: int, title: str) -> Path:
    """The Kaggle rows with the first paper at `revision` under `title` (the others as they are)."""
    changed = [dict(r) for r in rows]
    changed[0]["versions"] = [{"version": f"v{n}", "created": NEWER_DATE} for n in range(1, revision + 1)]
    changed[0]["title"] = title
    return write_lines(path, [json.dumps(r) for r in changed])


def stored(db: Settings, arxiv_id: str) -> tuple:
    with psycopg.connect(db.database_url) as conn:
        return conn.execute("select revision, title from papers where arxiv_id = %s", (arxiv_id,)).fetchone()


@pytest.mark.parametrize("first_to_commit", ["newer", "older"])
def test_an_older_revision_never_replaces_a_newer_one_in_concurrent_loads(
    db: Settings, sample: Sample, tmp_path: Path, first_to_commit: str
) -> None:
    rows = [kaggle_row(r) for r in sample.rows[:30]]
    load_sources(db, LoadOptions(sources=[revision_file(tmp_path / "v1.json", rows, 1, "Rev 1")], progress=False))
    files = {"newer": revision_file(tmp_path / "v3.json", rows, 3, "Rev 3"),
             "older": revision_file(tmp_path / "v2.json", rows, 2, "Rev 2")}
    held, other = ("older", "newer") if first_to_commit == "newer" else ("newer", "older")
    # The held load reads papers (while paper 1 is at revision 1) and then waits, inside its
    # transaction, just before its upsert, until the other load has committed.
    ready, other_committed = threading.Event(), threading.Event()
    results: dict[str, LoadSummary | BaseException] = {}

    def hold(conn: psycopg.Connection) -> None:
        ready.set()
        assert other_committed.wait(60)

    def run_held() -> None:
        try:
            results[held] = load_sources(db, LoadOptions(sources=[files[held]], progress=False, before_merge=hold))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            results[held] = exc
            ready.set()

    thread = threading.Thread(target=run_held)
    thread.start()
    assert ready.wait(60)
    results[other] = load_sources(db, LoadOptions(sources=[files[other]], progress=False))
    other_committed.set()
    thread.join(60)
    assert all(isinstance(r, LoadSummary) for r in results.values()), results
    assert stored(db, rows[0]["id"]) == (3, "Rev 3")
    newer, older = results["newer"], results["older"]
    assert newer.updated == 1
    assert (older.updated, older.unchanged) == (0 if first_to_commit == "newer" else 1, 30 if
                                                first_to_commit == "newer" else 29)
    for summary in (newer, older):
        assert summary.rows_in == summary.loaded + summary.updated + summary.unchanged + summary.rejected


def test_reloading_the_same_papers_from_another_file_reports_them_unchanged(
    db: Settings, tmp_path: Path, shared_data: Path
) -> None:
    """The vectors are projected in other batches the second time (a subset, in another order): before
    the float64 projection, about 4 rows in 10 then differed in a last float16 bit and came back 'updated'."""
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8") as lines:
        rows = [json.loads(next(lines)) for _ in range(300)]
    vectors = np.asarray(np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[:300])
    np.save(tmp_path / "all.npy", vectors)
    first = load_sources(db, LoadOptions(sources=[write_lines(tmp_path / "all.jsonl", [json.dumps(r) for r in rows])],
                                         embeddings=tmp_path / "all.npy", embedding_model="all-MiniLM-L6-v2",
                                         progress=False))
    assert first.loaded == 300
    subset = list(range(299, 0, -7))
    np.save(tmp_path / "some.npy", vectors[subset])
    again = load_sources(db, LoadOptions(
        sources=[write_lines(tmp_path / "some.jsonl", [json.dumps(rows[i]) for i in subset])],
        embeddings=tmp_path / "some.npy", embedding_model="all-MiniLM-L6-v2", progress=False))
    assert (again.updated, again.unchanged) == (0, len(subset))


def test_a_projected_row_is_the_same_alone_and_in_any_batch(shared_data: Path) -> None:
    vectors = np.asarray(np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[:400])
    space = fit_space("all-MiniLM-L6-v2", vectors)
    batch = space.project(vectors)
    alone = np.stack([space.project(vectors[i:i + 1])[0] for i in range(len(vectors))])
    assert np.array_equal(batch, alone)
