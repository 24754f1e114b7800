"""Read replicas: the API reads from a real streaming replica, falls back to the primary while the
replica is down, and comes back to it by itself; writes go to the primary.

The replica is a hot standby made with pg_basebackup from the embedded server's binaries, on
loopback. Which server answered is told by the data: the replica's WAL replay is paused, so a paper
written to the primary afterwards exists only there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator

import psycopg
import pytest
from litestar.testing import TestClient
from private_server import private_server, streaming_replica, wait_for_replay

from app.api import create_app
from app.core.embedded_server import EmbeddedPostgres
from app.core.pools import fetch_one, make_database
from app.core.settings import Settings

RETRY_SECONDS = 1.0


@pytest.fixture(scope="module")
def primary_and_replica() -> Iterator[tuple[EmbeddedPostgres, EmbeddedPostgres, Settings]]:
    with private_server(rows=20) as (primary, settings), streaming_replica(primary) as replica:
        settings = dataclasses.replace(settings, read_replica_urls=replica.url(), replica_retry_seconds=RETRY_SECONDS,
                                       api_db_wait_seconds=2.0)
        yield primary, replica, settings


def pause_replay(replica: EmbeddedPostgres) -> None:
    with psycopg.connect(replica.url(), autocommit=True) as conn:
        conn.execute("select pg_wal_replay_pause()")


def write_paper_on_primary(settings: Settings, arxiv_id: str) -> None:
    """A copy of a paper under a new id, committed on the primary only (the replica is paused)."""
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "insert into papers (arxiv_id, title, abstract, main_category, categories, published, authors) "
            "select %s, title, abstract, main_category, categories, published, authors from papers "
            "order by id limit 1", (arxiv_id,),
        )


def test_reads_go_to_the_replica_fall_back_to_the_primary_and_return(primary_and_replica) -> None:
    primary, replica, settings = primary_and_replica
    wait_for_replay(settings.database_url, replica.url())
    old = psycopg.connect(settings.database_url).execute("select arxiv_id from papers limit 1").fetchone()[0]
    pause_replay(replica)
    write_paper_on_primary(settings, "1912.99001")
    with TestClient(app=create_app(settings)) as client:
        assert client.get(f"/api/papers/{old}").status_code == 200
        for _ in range(3):  # the replica answers: it has not seen the new paper
            assert client.get("/api/papers/1912.99001").status_code == 404

        replica.stop()
        started = time.monotonic()
        for _ in range(5):  # the primary answers, at once after the first failure
            assert client.get("/api/papers/1912.99001").status_code == 200
        assert time.monotonic() - started < 4

        replica.start()  # restarted, it replays the WAL and catches up
        wait_for_replay(settings.database_url, replica.url())
        pause_replay(replica)
        write_paper_on_primary(settings, "1912.99002")
        deadline = time.monotonic() + 15
        while client.get("/api/papers/1912.99002").status_code == 200:  # still the primary
            assert time.monotonic() < deadline, "reads never went back to the replica"
            time.sleep(0.2)
        assert client.get("/api/papers/1912.99002").status_code == 404  # the replica again
        assert client.get("/api/search", params={"q": "the", "mode": "keyword"}).status_code == 200


def test_writes_go_to_the_primary_and_reads_to_the_replica(primary_and_replica) -> None:
    _, _, settings = primary_and_replica

    async def in_recovery() -> tuple[bool, bool]:
        db = make_database(settings)
        await db.open(wait=True)
        try:
            async with db.write() as conn:
                written = (await (await conn.execute("select pg_is_in_recovery() as r")).fetchone())["r"]
            read = (await fetch_one(db, "select pg_is_in_recovery() as r"))["r"]
            return written, read
        finally:
            await db.close()

    assert asyncio.run(in_recovery()) == (False, True)


def test_without_replicas_every_read_is_on_the_primary(primary_and_replica) -> None:
    _, _, settings = primary_and_replica

    async def read() -> bool:
        db = make_database(dataclasses.replace(settings, read_replica_urls=""))
        await db.open(wait=True)
        try:
            return (await fetch_one(db, "select pg_is_in_recovery() as r"))["r"]
        finally:
            await db.close()

    assert asyncio.run(read()) is False
