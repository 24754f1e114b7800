"""The API's database access: bounded async pools, reads spread over read replicas, every query
under a statement timeout.

- Reads (tiles, viewports, search, papers, neighbours: every query the API makes today) go to the
  replicas of ATLAS_READ_REPLICA_URLS in turn. A replica that cannot be reached, or fails mid-query,
  is left out for ATLAS_REPLICA_RETRY_SECONDS and the read is retried on the next replica, then on
  the primary; with no replica configured every query runs on the primary. Writes go to the primary.
- A pooled connection found broken (the server restarted since) is dropped, the pool's idle
  connections are checked, and the read runs again on a fresh one: a restart costs no failed request.
  A pool gives up on a dead server quickly and tries again at the next request (it recovers by itself).
- Database trouble is the API's to explain, never a 500: a query cancelled by the timeout, a pool
  with no free connection within ATLAS_API_DB_WAIT_SECONDS, or a server that is down all answer 503
  with Retry-After (errors.py).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar, cast

import psycopg
from pgvector.psycopg import register_vector_async
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.core.connections import database_url
from app.core.settings import Settings

log = logging.getLogger("atlas.api")
T = TypeVar("T")
# How long a read waits for a replica's connection before it moves on (a dead replica costs this once).
REPLICA_WAIT_SECONDS = 1.0
# A pool that cannot reconnect gives up after this long; the next request starts a fresh attempt at once,
# so a database that is back is reached within seconds instead of after a long exponential backoff.
RECONNECT_SECONDS = 5.0


def _configure_for(settings: Settings) -> Callable[[psycopg.AsyncConnection], Awaitable[None]]:
    async def configure(conn: psycopg.AsyncConnection) -> None:
        await register_vector_async(conn)
        await conn.set_autocommit(True)
        # After the type lookup above, so that only the API's own queries run under the timeout.
        await conn.execute(f"set statement_timeout = {int(settings.api_statement_timeout_ms)}")
    return configure


def _pool(settings: Settings, url: str, name: str) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=settings.api_pool_size,
        kwargs={"application_name": name, "row_factory": dict_row,
                "connect_timeout": max(2, math.ceil(settings.api_db_wait_seconds))},  # libpq's minimum is 2
        configure=_configure_for(settings),
        timeout=settings.api_db_wait_seconds,  # waiting longer for a free connection than this answers 503
        reconnect_timeout=RECONNECT_SECONDS,
        open=False,
        name=name,
    )


def replica_urls(settings: Settings) -> list[str]:
    return [url.strip() for url in settings.read_replica_urls.split(",") if url.strip()]


class Database:
    """The primary's pool and one pool per read replica, with the routing between them."""

    def __init__(self, primary: AsyncConnectionPool, replicas: list[AsyncConnectionPool],
                 retry_seconds: float) -> None:
        self.primary = primary
        self.replicas = replicas
        self.retry_seconds = retry_seconds
        self._down_until: dict[str, float] = {}  # replica pool name -> time.monotonic() to try it again
        self._turn = itertools.count()

    async def open(self, wait: bool = False) -> None:
        for pool in [self.primary, *self.replicas]:
            await pool.open(wait=wait)

    async def close(self) -> None:
        for pool in [self.primary, *self.replicas]:
            await pool.close()

    def replicas_up(self) -> list[AsyncConnectionPool]:
        now = time.monotonic()
        return [pool for pool in self.replicas if self._down_until.get(pool.name, 0.0) <= now]

    def _read_order(self) -> list[AsyncConnectionPool]:
        up = self.replicas_up()
        if up:
            turn = next(self._turn) % len(up)
            up = up[turn:] + up[:turn]
        return [*up, self.primary]

    def _left_out(self, pool: AsyncConnectionPool, exc: Exception) -> None:
        self._down_until[pool.name] = time.monotonic() + self.retry_seconds
        log.warning("replica %s left out for %.0f s after %s; reads go elsewhere", pool.name, self.retry_seconds,
                    type(exc).__name__)

    async def read(self, work: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` (reads only: it may run more than once) on a replica, else on the primary."""
        for pool in self._read_order():
            if pool is self.primary:
                return await _on(pool, work)
            try:
                return await _on(pool, work, timeout=min(REPLICA_WAIT_SECONDS, self.primary.timeout))
            except psycopg.errors.QueryCanceled:
                raise  # the statement timeout: the query is too slow, not the replica broken
            except psycopg.errors.TransactionRollback:
                continue  # a conflict with the replica's recovery (WAL replay): retry elsewhere
            except (psycopg.OperationalError, PoolTimeout) as exc:
                self._left_out(pool, exc)
        raise AssertionError("unreachable: the primary is always last")

    @asynccontextmanager
    async def write(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A connection to the primary, for anything that writes (or must see its own writes)."""
        async with self.primary.connection() as conn:
            yield conn


async def _on(pool: AsyncConnectionPool, work: Callable[[psycopg.AsyncConnection], Awaitable[T]],
              timeout: float | None = None) -> T:
    """`work` on a connection of `pool`; once more on a fresh one if the first was found broken.

    Cheaper than checking every connection as it leaves the pool (a round trip per request).
    """
    for attempt in (1, 2):
        async with pool.connection(timeout=timeout) as conn:
            try:
                return await work(conn)
            except psycopg.OperationalError:
                if attempt == 2 or not conn.broken:
                    raise
        await pool.check()  # the others idle in the pool are likely broken too: drop them now
    raise AssertionError("unreachable")


def make_database(settings: Settings) -> Database:
    """Pools of at most `api_pool_size` connections each; opened by the app's lifespan.

    `settings.database_url` is the primary as the API connects to it (create_app passes settings
    whose URL names atlas_api when its password is known: app/roles.py).
    """
    primary = _pool(settings, database_url(settings), "atlas-api")
    replicas = [_pool(settings, url, f"atlas-api-replica-{i}") for i, url in enumerate(replica_urls(settings), 1)]
    return Database(primary, replicas, settings.replica_retry_seconds)


async def _all(conn: psycopg.AsyncConnection, query: str, params: dict | tuple | None) -> list[dict]:
    cursor = await conn.execute(query, params)
    return cast(list[dict], await cursor.fetchall())  # the pools' connections use dict_row


async def _one(conn: psycopg.AsyncConnection, query: str, params: dict | tuple | None) -> dict | None:
    cursor = await conn.execute(query, params)
    return cast(dict | None, await cursor.fetchone())  # the pools' connections use dict_row


async def fetch_all(db: Database, query: str, params: dict | tuple | None = None) -> list[dict]:
    """Every row of a read query (on a replica when there is one), as dicts."""
    return await db.read(lambda conn: _all(conn, query, params))


async def fetch_one(db: Database, query: str, params: dict | tuple | None = None) -> dict | None:
    """The first row of a read query (on a replica when there is one), or None."""
    return await db.read(lambda conn: _one(conn, query, params))


async def _discard_session(conn: psycopg.AsyncConnection) -> None:
    """Back into the pool with nothing left of the last query: settings, prepared statements, advisory locks."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        await conn.rollback()
    await conn.execute("discard all")


def make_sql_runner_pool(settings: Settings, url: str) -> AsyncConnectionPool:
    """The SQL panel's own pool, connecting as atlas_sql_runner (app/core/roles.py `sql_runner_url`):
    at most ATLAS_SQL_CONNECTION_LIMIT connections, each reset with DISCARD ALL after every query."""
    return AsyncConnectionPool(
        url,
        min_size=0,
        max_size=max(1, settings.sql_connection_limit),
        kwargs={"application_name": "atlas-sql-panel", "autocommit": True,
                "connect_timeout": max(2, math.ceil(settings.api_db_wait_seconds))},
        reset=_discard_session,
        timeout=settings.api_db_wait_seconds,
        reconnect_timeout=RECONNECT_SECONDS,
        open=False,
        name="atlas-sql-panel",
    )
