"""How the API answers when something goes wrong: always a status with a reason, never a bare 500.

- Bad parameters are refused before any query (Litestar's validation, and ApiError): 400/404/422.
- The database refusing a value (an exception raised by a function in sql/) is the client's: 400,
  or 404 for "no such thing".
- The database being slow, full or down is not: 503 with Retry-After.
"""

from __future__ import annotations

import logging

import psycopg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from psycopg_pool import PoolTimeout

log = logging.getLogger("atlas.api")
RETRY_AFTER_SECONDS = 5


class ApiError(HTTPException):
    """An error whose message is for the client."""


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        {"status_code": status, "detail": detail}, status_code=status, media_type=MediaType.JSON, headers=headers,
    )


def database_unavailable(request: Request, exc: Exception) -> Response:
    if isinstance(exc, psycopg.errors.QueryCanceled):
        detail = "the query took longer than the API's statement timeout; try a narrower request"
    elif isinstance(exc, PoolTimeout):
        detail = "every database connection is busy; try again shortly"
    else:
        detail = "the database is unavailable; try again shortly"
    log.warning("503 for %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return _problem(503, detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def database_refused(request: Request, exc: psycopg.Error) -> Response:
    """An error raised on purpose by SQL (sql/*.sql validate their parameters): the client's mistake."""
    message = exc.diag.message_primary or str(exc)
    if isinstance(exc, psycopg.errors.NoDataFound):
        return _problem(404, message)
    if isinstance(exc, psycopg.errors.RaiseException | psycopg.errors.InvalidParameterValue |
                  psycopg.errors.InvalidTextRepresentation | psycopg.errors.NumericValueOutOfRange |
                  psycopg.errors.DataException):
        return _problem(400, message)
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.QueryCanceled):
        return database_unavailable(request, exc)
    log.exception("database error for %s %s", request.method, request.url.path, exc_info=exc)
    return _problem(500, "internal error")


EXCEPTION_HANDLERS = {
    PoolTimeout: database_unavailable,
    psycopg.OperationalError: database_unavailable,
    psycopg.Error: database_refused,
}
