"""The web map's SQL panel: one read-only query of an analyst, run as atlas_sql_runner, as map points.

What keeps a hostile query harmless is the database, not a parser here:
- the role (app/core/roles.py): no right outside schema `analytics` (views and search functions), no
  CREATE or TEMP anywhere, no membership (so `set role` fails), not a superuser (so `copy ... to
  program` and `pg_read_file` fail), its sessions read-only with work_mem and temp_file_limit bounded;
- the transaction: `read only`, with this request's statement_timeout and work_mem, always rolled back;
  the connection is reset with DISCARD ALL before anyone else gets it;
- the protocol: the text goes as one extended-protocol statement (psycopg's `stream`), which PostgreSQL
  refuses when it holds two ("cannot insert multiple commands into a prepared statement");
- the rows: streamed one by one and no more than the limit read, so `generate_series(1, 1e10)` stops at
  the limit and a slow one at the timeout.
Every refusal carries the database's own message (SqlQueryError), which the API answers as 400.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from app.core.errors import AtlasError
from app.core.pools import Database, fetch_all
from app.core.settings import Settings

MAX_SQL_CHARS = 20_000  # the body's bound (a 100 KB query is refused before it reaches the database)
ID_COLUMNS = ("arxiv_id", "paper_id")  # a row with either becomes a point of the map
MAX_CELL_CHARS = 2_000  # a long text (an abstract, a vector) is cut in the answer
NOT_A_QUERY = "the statement returned no rows: the SQL panel runs one query (select, with, values, table)"


class SqlQueryError(AtlasError):
    """A query the database refused, or that cannot run as asked; the message is the database's."""

    def __init__(self, message: str, *, sqlstate: str | None = None, position: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.position = position
        self.hint = hint


@dataclass
class SqlResult:
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool  # more rows than the limit: the rest were not read
    took_ms: float
    id_column: str | None = None
    points: list[dict[str, Any]] = field(default_factory=list)  # {row, key, arxiv_id, x, y} on the map

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "row_count": len(self.rows),
                "truncated": self.truncated, "took_ms": self.took_ms, "id_column": self.id_column,
                "points": self.points, "on_map": len(self.points)}


def _cell(value: Any) -> Any:
    """A JSON value for one cell (numbers, text, booleans, null, lists; anything else as its text)."""
    if value is None or isinstance(value, bool | int | str):
        return value if not isinstance(value, str) or len(value) <= MAX_CELL_CHARS else value[:MAX_CELL_CHARS] + "…"
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_cell(v) for v in value[:100]]
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


def _refusal(exc: psycopg.Error) -> SqlQueryError:
    diag = exc.diag
    message = diag.message_primary or str(exc).strip()
    hint = diag.message_hint
    if isinstance(exc, psycopg.errors.QueryCanceled):
        hint = "the SQL panel cancels a query after ATLAS_SQL_STATEMENT_TIMEOUT_MS; narrow it or add a limit"
    position = int(diag.statement_position) if diag.statement_position else None
    return SqlQueryError(message, sqlstate=diag.sqlstate, position=position, hint=hint)


class SqlRunner:
    """Runs the SQL panel's queries on its own pool (as atlas_sql_runner) under the settings' bounds."""

    def __init__(self, settings: Settings, pool: AsyncConnectionPool) -> None:
        self.settings = settings
        self.pool = pool

    async def run(self, text: str, limit: int) -> SqlResult:
        query = text.strip()
        while query.endswith(";"):
            query = query[:-1].rstrip()
        if not query:
            raise SqlQueryError("the query is empty")
        if len(text) > MAX_SQL_CHARS:
            raise SqlQueryError(f"the query is longer than {MAX_SQL_CHARS} characters")
        limit = max(1, min(limit, self.settings.sql_max_rows))
        timeout_ms = int(self.settings.sql_statement_timeout_ms)
        started = time.perf_counter()
        async with self.pool.connection() as conn:
            try:
                # The client's own guard: the server's timeout should always come first.
                return await asyncio.wait_for(self._run_on(conn, query, limit, timeout_ms, started),
                                              timeout=timeout_ms / 1000 + 5)
            except TimeoutError as exc:
                await conn.cancel_safe()
                raise SqlQueryError("canceling statement: the query did not stop at the statement timeout",
                                    sqlstate="57014") from exc
            finally:
                if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    with suppress(psycopg.Error):
                        await conn.rollback()

    async def _run_on(self, conn: psycopg.AsyncConnection, query: str, limit: int, timeout_ms: int,
                      started: float) -> SqlResult:
        await conn.execute("begin transaction isolation level repeatable read, read only")
        await conn.execute(sql.SQL("set local statement_timeout = {}").format(sql.Literal(timeout_ms)))
        await conn.execute(sql.SQL("set local work_mem = {}").format(sql.Literal(self.settings.sql_work_mem)))
        rows: list[list[Any]] = []
        truncated = False
        description = None
        cursor = conn.cursor()
        try:
            # stream(): the extended protocol (one statement only) and rows one at a time.
            async with aclosing(cursor.stream(query.encode())) as stream:
                async for row in stream:
                    if description is None:
                        description = cursor.description
                    if len(rows) == limit:
                        truncated = True
                        break
                    rows.append([_cell(v) for v in row])
            if description is None and not rows:
                # A query that found no rows: stream() ended without a row and without an error (a
                # statement that is no query raises above), so it leaves no description. Run it once
                # more, unstreamed (same transaction, same limits), for its columns.
                await cursor.execute(query.encode())
                description = cursor.description
        except psycopg.Error as exc:
            state = exc.diag.sqlstate
            if not state and isinstance(exc, psycopg.ProgrammingError):
                raise SqlQueryError(NOT_A_QUERY, sqlstate="0A000") from exc  # psycopg: "didn't produce a result"
            if isinstance(exc, psycopg.OperationalError) and (not state or state.startswith("08") or conn.broken):
                raise  # the connection, not the query: the API's 503
            raise _refusal(exc) from exc
        finally:
            if not conn.broken:
                await conn.rollback()
        if description is None:
            raise SqlQueryError(NOT_A_QUERY, sqlstate="0A000")
        types = conn.adapters.types
        columns = []
        for column in description:
            info = types.get(column.type_code)
            columns.append({"name": column.name, "type": info.name if info else str(column.type_code)})
        return SqlResult(columns=columns, rows=rows, truncated=truncated,
                         took_ms=round((time.perf_counter() - started) * 1000, 1))


async def place_rows(pool: Database, result: SqlResult, map_id: int) -> SqlResult:
    """Give each row holding an arxiv_id or a paper_id its point (x, y) on the map (rows of papers that
    the map lacks get none)."""
    names = [c["name"].lower() for c in result.columns]
    column = next((name for name in ID_COLUMNS if name in names), None)
    result.id_column = column
    if column is None or not result.rows:
        return result
    index = names.index(column)
    values = [row[index] for row in result.rows]
    if column == "arxiv_id":
        wanted = sorted({str(v) for v in values if v is not None})
        where = "p.arxiv_id = any(%(ids)s::text[])"
    else:
        wanted = sorted({int(v) for v in values if isinstance(v, int) and 0 < v < 2**63})
        where = "p.id = any(%(ids)s::bigint[])"
    if not wanted:
        return result
    found = await fetch_all(
        pool,
        f"select p.id as key, p.arxiv_id, mp.x, mp.y from papers p "  # noqa: S608 - a column name of ours; values bound
        f"join map_points mp on mp.paper_id = p.id and mp.map_id = %(map)s where {where}",
        {"ids": wanted, "map": map_id},
    )
    by_value = {(row["arxiv_id"] if column == "arxiv_id" else row["key"]): row for row in found}
    for position, value in enumerate(values):
        hit = by_value.get(value)
        if hit is not None:
            result.points.append({"row": position, "key": hit["key"], "arxiv_id": hit["arxiv_id"],
                                  "x": hit["x"], "y": hit["y"]})
    return result


SCHEMA_QUERY = """
select c.table_name as name, 'view' as kind, obj_description(('analytics.' || quote_ident(c.table_name))::regclass)
       as description,
       json_agg(json_build_object('name', c.column_name, 'type', c.data_type) order by c.ordinal_position) as columns
  from information_schema.columns c
 where c.table_schema = 'analytics'
 group by c.table_name
union all
select p.proname, 'function', obj_description(p.oid, 'pg_proc'),
       json_build_array(json_build_object('name', pg_get_function_arguments(p.oid), 'type',
                                          pg_get_function_result(p.oid)))
  from pg_proc p
 where p.pronamespace = 'analytics'::regnamespace and has_function_privilege(p.oid, 'execute')
 order by 2 desc, 1
"""


async def analytics_schema(runner: SqlRunner) -> list[dict[str, Any]]:
    """The views (with their columns) and functions of schema analytics that the SQL panel can use."""
    async with runner.pool.connection() as conn:
        cursor = await conn.execute(SCHEMA_QUERY)
        return [{"name": name, "kind": kind, "description": description, "columns": columns}
                for name, kind, description, columns in await cursor.fetchall()]
