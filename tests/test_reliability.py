"""Reliability promises that only a real failure can prove.

- ETL crash safety: `atlas load` killed with SIGKILL halfway (every row merged, nothing committed)
  leaves the previous data whole and readable; a re-run completes and its rows add up.
- Database faults: with the database stopped under load, the API under uvicorn answers 503 with
  Retry-After (never 500, never a hang), and recovers by itself once the database is back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
import uvicorn
from private_server import free_port, private_server, sample_slice

from app.api import create_app
from app.core.embedded_server import EmbeddedPostgres
from app.core.settings import Settings
from etl.load import LoadOptions, load_sources

REPO = Path(__file__).resolve().parent.parent


# ---- ETL crash safety ---------------------------------------------------------------------------
def papers_checksum(conn: psycopg.Connection) -> tuple:
    return conn.execute(
        "select count(*), md5(coalesce(string_agg(p::text, '|' order by arxiv_id), '')) from papers p"
    ).fetchone()


def second_load(tmp_path: Path, vectors: np.ndarray) -> tuple[Path, Path]:
    """Rows 200-599 of the sample: 100 already loaded (30 of them with a new title), 300 new, and
    3 broken lines; with the .npy aligned row by row."""
    text = sample_slice(tmp_path / "rows.jsonl", 400, start=200).read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    for row in rows[:30]:
        row["title"] += " (revised)"
    lines = [json.dumps(row) for row in rows] + ["{not json", json.dumps({"arxiv_id": "0704.0002"}), "[]"]
    source = tmp_path / "second.jsonl"
    source.write_text("\n".join(lines) + "\n")
    npy = tmp_path / "second.all-MiniLM-L6-v2.f16.npy"
    np.save(npy, np.concatenate([vectors[200:600], vectors[:3]]))
    return source, npy


def test_a_load_killed_halfway_leaves_the_previous_data_whole_and_a_rerun_completes(
    db: Settings, shared_data: Path, tmp_path: Path
) -> None:
    vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")
    first = sample_slice(tmp_path / "first.jsonl", 300)
    np.save(tmp_path / "first.all-MiniLM-L6-v2.f16.npy", vectors[:300])
    load_sources(db, LoadOptions(sources=[first], embeddings=tmp_path / "first.all-MiniLM-L6-v2.f16.npy",
                                 progress=False))
    source, npy = second_load(tmp_path, vectors)

    with psycopg.connect(db.database_url, autocommit=True) as reader, psycopg.connect(db.database_url) as barrier:
        before = papers_checksum(reader)
        runs_before = reader.execute("select count(*) from load_runs").fetchone()[0]
        # The load's last write is its load_runs row: holding that table stops it there, every paper
        # merged and nothing committed, which is the worst moment to die.
        barrier.execute("lock table load_runs in access exclusive mode")
        env = dict(os.environ, DATABASE_URL=db.database_url, ATLAS_DATA_DIR=str(tmp_path / "cli"))
        loader = subprocess.Popen([sys.executable, "-m", "app.cli", "load", str(source), "--embeddings", str(npy)],
                                  cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            backend = wait_for_blocked_loader(reader, loader)
            assert papers_checksum(reader) == before  # readable, and still the previous data, meanwhile
            loader.send_signal(signal.SIGKILL)
            assert loader.wait(timeout=30) == -signal.SIGKILL
        finally:
            if loader.poll() is None:
                loader.kill()
            barrier.rollback()  # the orphaned backend finds its client gone and rolls back
        deadline = time.monotonic() + 30
        while reader.execute("select 1 from pg_stat_activity where pid = %s", (backend,)).fetchone():
            assert time.monotonic() < deadline, "the killed load's backend did not end"
            time.sleep(0.05)
        assert papers_checksum(reader) == before
        assert reader.execute("select count(*) from load_runs").fetchone()[0] == runs_before

    summary = load_sources(db, LoadOptions(sources=[source], embeddings=npy, progress=False))
    assert (summary.rows_in, summary.loaded, summary.rejected) == (403, 300, 3)
    # the 100 known rows: 30 new titles at least (a vector projected in another batch may differ in its
    # last half-float bit and count as an update too), the rest unchanged
    assert summary.updated + summary.unchanged == 100 and summary.updated >= 30
    with psycopg.connect(db.database_url) as conn:
        assert papers_checksum(conn)[0] == 600
        rows_in, added_up = conn.execute(
            "select rows_in, loaded + updated + unchanged + rejected from load_runs order by id desc limit 1"
        ).fetchone()
        assert rows_in == added_up == 403


def wait_for_blocked_loader(conn: psycopg.Connection, loader: subprocess.Popen, timeout: float = 120) -> int:
    """The pid of the loader's backend once it waits for the load_runs lock."""
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute(
            "select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' "
            "and query like 'insert into load_runs%'"
        ).fetchone()
        if row:
            return row[0]
        if loader.poll() is not None:
            pytest.fail(f"the load ended before reaching its last write:\n{loader.stdout.read()}")
        assert time.monotonic() < deadline, "the load never reached its last write"
        time.sleep(0.02)


# ---- database faults under load -------------------------------------------------------------------
WAIT_SECONDS = 1.0  # ATLAS_API_DB_WAIT_SECONDS of the server under test: a request waits at most this


@dataclass
class Answer:
    at: float  # seconds since the load started, when the answer came
    status: int
    retry_after: str | None
    seconds: float


@pytest.fixture(scope="module")
def small_database() -> Iterator[tuple[EmbeddedPostgres, Settings]]:
    with private_server(rows=50) as server_and_settings:
        yield server_and_settings


@pytest.fixture
def api_server(small_database) -> Iterator[str]:
    """The app under uvicorn on a loopback port (in a thread of this process: real HTTP, no start-up of
    another interpreter), waiting at most WAIT_SECONDS for a database connection."""
    _, settings = small_database
    app = create_app(dataclasses.replace(settings, api_db_wait_seconds=WAIT_SECONDS))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def urls(settings: Settings) -> list[str]:
    with psycopg.connect(settings.database_url) as conn:
        ids = [r[0] for r in conn.execute("select arxiv_id from papers order by id limit 20")]
        keys = [str(r[0]) for r in conn.execute("select id from papers order by id limit 5")]
    return ([f"/api/papers/{i}" for i in ids] + ["/api/search?mode=keyword&q=quantum", "/api/categories",
            "/api/search?mode=title&q=graphs", f"/api/paper-keys?keys={','.join(keys)}", "/api/health"])


async def traffic(base: str, paths: list[str], clients: int, stop: asyncio.Event, answers: list[Answer],
                  started: float) -> None:
    async def client(number: int, http: httpx.AsyncClient) -> None:
        turn = number
        while not stop.is_set():
            path = paths[turn % len(paths)]
            turn += clients
            sent = time.monotonic()
            response = await http.get(base + path)
            now = time.monotonic()
            answers.append(Answer(now - started, response.status_code, response.headers.get("retry-after"),
                                  now - sent))
            await asyncio.sleep(0.01)

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))


def test_a_stopped_database_is_503_with_retry_after_and_the_api_recovers(small_database, api_server) -> None:
    server, settings = small_database
    answers: list[Answer] = []
    marks: dict[str, float] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        started = time.monotonic()
        load = asyncio.create_task(traffic(api_server, urls(settings), 8, stop, answers, started))
        await asyncio.sleep(1.0)
        marks["stopping"] = time.monotonic() - started
        await asyncio.to_thread(server.stop)
        marks["stopped"] = time.monotonic() - started
        await asyncio.sleep(2)
        marks["restarting"] = time.monotonic() - started
        await asyncio.to_thread(server.start)
        marks["restarted"] = time.monotonic() - started
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            recent = [a for a in answers if a.at > time.monotonic() - started - 1.0]
            if recent and all(a.status == 200 for a in recent):
                break
        marks["recovered"] = time.monotonic() - started
        await asyncio.sleep(0.5)
        stop.set()
        await load

    asyncio.run(scenario())
    statuses = {a.status for a in answers}
    assert statuses <= {200, 503}, f"statuses seen: {statuses}"  # never a 500
    assert all(a.retry_after == "5" for a in answers if a.status == 503)
    # no hang: a request waits for a connection at most WAIT_SECONDS, then is answered
    assert max(a.seconds for a in answers) < WAIT_SECONDS + 3, max(a.seconds for a in answers)
    up = [a for a in answers if a.at < marks["stopping"]]
    down = [a for a in answers if marks["stopped"] + 0.5 < a.at < marks["restarting"]]
    after = [a for a in answers if a.at > marks["recovered"]]
    assert up and all(a.status == 200 for a in up)
    assert down and all(a.status == 503 for a in down)
    assert after and all(a.status == 200 for a in after)
    assert marks["recovered"] - marks["restarted"] < 15, marks  # by itself, within seconds
