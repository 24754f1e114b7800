"""What a load tells its caller (issue 17): exit codes, the reject rate, the reject report only for a
committed load, folders as sources, ignored keys and synonyms, Kaggle's CSV as pandas writes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sample_formats import Sample, _mangle, kaggle_row, write_lines

from app.core.records import StructuralError
from app.core.settings import Settings
from etl.load import LoadOptions, LoadSummary, load_sources

REPO = Path(__file__).resolve().parent.parent


def load(settings: Settings, *sources: Path, **options) -> LoadSummary:
    summary = load_sources(settings, LoadOptions(sources=list(sources), progress=False, **options))
    assert summary.rows_in == summary.loaded + summary.updated + summary.unchanged + summary.rejected
    return summary


def atlas_load(db: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db.database_url, "ATLAS_DATA_DIR": str(db.data_dir),
           "ATLAS_REJECT_DIR": str(db.rejects_folder)}
    return subprocess.run([sys.executable, "-m", "app.cli", "load", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def with_bad_rows(sample: Sample, good: int, bad: int) -> list[str]:
    return [json.dumps(r) for r in sample.rows[:good]] + [
        json.dumps({**r, "title": ""}) for r in sample.rows[good:good + bad]]


def test_exit_codes_say_whether_the_load_failed(db: Settings, sample: Sample, tmp_path: Path) -> None:
    all_bad = write_lines(tmp_path / "all-bad.jsonl", with_bad_rows(sample, 0, 5))
    result = atlas_load(db, str(all_bad))
    assert result.returncode == 3 and "every row was rejected" in result.stdout, result.stdout + result.stderr
    mostly_bad = write_lines(tmp_path / "mostly-bad.jsonl", with_bad_rows(sample, 4, 6))
    result = atlas_load(db, str(mostly_bad))
    assert result.returncode == 3 and "60% of the rows were rejected" in result.stdout
    assert "4 loaded" in result.stdout  # the good rows load either way
    assert atlas_load(db, str(mostly_bad), "--max-reject-rate", "0.7").returncode == 0


def test_the_summary_fails_past_the_reject_rate(db: Settings, sample: Sample, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "some-bad.jsonl", with_bad_rows(sample, 6, 4))
    assert not load(db, path).failed
    assert load(db, path, max_reject_rate=0.3).failed


def test_the_reject_report_exists_only_for_a_committed_load(db: Settings, sample: Sample, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "some-bad.jsonl", with_bad_rows(sample, 8, 2))

    def crash(conn: psycopg.Connection) -> None:
        raise RuntimeError("killed before the upsert")

    with pytest.raises(RuntimeError, match="killed"):
        load(db, path, before_merge=crash)
    assert not db.rejects_folder.exists() or not any(db.rejects_folder.iterdir())
    summary = load(db, path)
    assert [p.name for p in db.rejects_folder.iterdir()] == [summary.reject_report.name]
    assert summary.reject_report.suffix == ".csv"
    with psycopg.connect(db.database_url) as conn:
        assert conn.execute("select reject_report from load_runs").fetchall() == [(str(summary.reject_report),)]


def test_a_folder_loads_every_supported_file_and_skips_empty_ones(
    db: Settings, sample: Sample, tmp_path: Path
) -> None:
    folder = tmp_path / "daily"
    folder.mkdir()
    write_lines(folder / "2019-01-02.jsonl", [json.dumps(r) for r in sample.rows[:50]])
    write_lines(folder / "2019-01-01.json.gz", [json.dumps(kaggle_row(r)) for r in sample.rows[50:80]])
    (folder / "2019-01-03.jsonl").write_bytes(b"")
    (folder / "README.txt").write_text("harvested by hand\n")
    summary = load(db, folder)
    assert (summary.loaded, summary.rejected) == (80, 0)
    notices = "\n".join(summary.notices)
    assert f"skipped empty file {folder / '2019-01-03.jsonl'}" in notices
    assert "README.txt" in notices and "unknown format" in notices
    with psycopg.connect(db.database_url) as conn:
        sources = conn.execute("select sources from load_runs").fetchone()[0]
    assert sources == [str(folder / "2019-01-01.json.gz"), str(folder / "2019-01-02.jsonl")]  # sorted

    nothing = tmp_path / "nothing"
    nothing.mkdir()
    (nothing / "notes.txt").write_text("no papers here\n")
    with pytest.raises(StructuralError, match=r"nothing: a folder with no file in a supported format \(.*jsonl"):
        load(db, nothing)


def test_unknown_keys_are_reported_once_and_synonyms_are_mapped(db: Settings, sample: Sample, tmp_path: Path) -> None:
    rows = [{**r, "links": ["http://arxiv.org/pdf/x"], "citation_count": 3} for r in sample.rows[:20]]
    for r in rows:
        r["summary"] = r.pop("abstract")
        r["comment"] = r.pop("comments")
    summary = load(db, write_lines(tmp_path / "api.jsonl", [json.dumps(r) for r in rows]))
    assert summary.loaded == 20
    assert summary.notices == ["ignored keys: citation_count, links"]
    assert summary.describe().count("ignored keys") == 1
    with psycopg.connect(db.database_url) as conn:
        stored = conn.execute("select abstract, arxiv_comment from papers where arxiv_id = %s",
                              (rows[0]["arxiv_id"],)).fetchone()
    assert stored[0] == rows[0]["summary"] and stored[1] == (" ".join(rows[0]["comment"].split())
                                                            if rows[0]["comment"] else None)


def test_the_kaggle_snapshot_as_pandas_writes_it_to_csv(db: Settings, sample: Sample, tmp_path: Path) -> None:
    """pandas writes list cells as Python literals ([{'version': 'v1', ...}]); a spreadsheet step made ids numbers."""
    rows = [kaggle_row(r) for r in sample.rows]
    frame = pd.DataFrame(rows)
    frame["id"] = [_mangle(r["id"]) for r in rows]
    path = tmp_path / "arxiv-metadata.csv"
    frame.to_csv(path, index=False)
    assert "[{'version': 'v1'" in path.read_text()
    summary = load(db, path)
    assert (summary.loaded, summary.rejected) == (len(rows), 0), [str(r) for r in summary.rejects[:3]]
    with psycopg.connect(db.database_url) as conn:
        got = dict(conn.execute("select arxiv_id, revision from papers").fetchall())
    assert got == {r["id"]: len(r["versions"]) for r in rows}
