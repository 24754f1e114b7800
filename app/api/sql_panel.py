"""The SQL panel's two answers shared by POST /api/sql and POST /api/maps/{map}/footprint (a SQL layer's
footprint): 403 when the panel is off, 400 with the database's message when it refuses a query."""

from __future__ import annotations

from app.api.error_handlers import ApiError
from app.services.sql_runner import SqlQueryError, SqlRunner


def require_panel(runner: SqlRunner | None) -> SqlRunner:
    if runner is None:
        raise ApiError(status_code=403, detail="the SQL panel is off on this server (ATLAS_SQL_ENABLED, "
                                               "and ATLAS_SQL_PASSWORD with DATABASE_URL)")
    return runner


def refused(exc: SqlQueryError) -> ApiError:
    extra = {k: v for k, v in (("sqlstate", exc.sqlstate), ("position", exc.position), ("hint", exc.hint)) if v}
    return ApiError(status_code=400, detail=exc.message, extra=extra or None)
