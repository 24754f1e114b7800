"""The API's database access: one bounded async connection pool, every query under a statement timeout.

Database trouble is the API's to explain, never a 500: a query cancelled by the timeout, a pool
with no free connection, or a server that is down all answer 503 with Retry-After (errors.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from pgvector.psycopg import register_vector_async
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from app.database import database_url
from app.settings import Settings


def _configure_for(settings: Settings):
    async def configure(conn: psycopg.AsyncConnection) -> None:
        await register_vector_async(conn)
        await conn.set_autocommit(True)
        # After the type lookup above, so that only the API's own queries run under the timeout.
        await conn.execute(f"set statement_timeout = {int(settings.api_statement_timeout_ms)}")
    return configure


def make_pool(settings: Settings) -> AsyncConnectionPool:
    """A pool of at most `api_pool_size` connections; opened by the app's lifespan."""
    return AsyncConnectionPool(
        database_url(settings),
        min_size=1,
        max_size=settings.api_pool_size,
        kwargs={"application_name": "atlas-api", "row_factory": dict_row},
        configure=_configure_for(settings),
        timeout=5.0,  # waiting longer for a free connection than this answers 503
        open=False,
        name="atlas-api",
    )


@asynccontextmanager
async def connection(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection]:
    async with pool.connection() as conn:
        yield conn


async def fetch_all(pool: AsyncConnectionPool, query: str, params: dict | tuple | None = None) -> list[dict]:
    async with pool.connection() as conn:
        cursor = await conn.execute(query, params)
        return await cursor.fetchall()


async def fetch_one(pool: AsyncConnectionPool, query: str, params: dict | tuple | None = None) -> dict | None:
    async with pool.connection() as conn:
        cursor = await conn.execute(query, params)
        return await cursor.fetchone()
