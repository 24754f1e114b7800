"""How the API answers when something goes wrong: always a status with a reason, never a bare 500.

- Bad parameters are refused before any query (Litestar's validation, and ApiError): 400/404/422.
- The database refusing a value (an exception raised by a function in sql/) is the client's: 400,
  or 404 for "no such thing".
- The database being slow, full or down is not: 503 with Retry-After; nor is a model whose queue is
  full (ModelBusy): 503 with Retry-After at once.
"""

from __future__ import annotations

import logging

import psycopg
from litestar import Litestar, MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from psycopg_pool import PoolTimeout

from app.services.query_models import ModelBusy

log = logging.getLogger("atlas.api")
RETRY_AFTER_SECONDS = 5


class ApiError(HTTPException):
    """An error whose message is for the client."""


# What any endpoint may answer besides its success, for the OpenAPI schema (document_errors); a bad
# parameter or body is Litestar's ValidationException (400) or an ApiError with status 400.
class NotFound(ApiError):
    status_code = 404
    detail = "no such map, paper or path"


class Conflict(ApiError):
    status_code = 409
    detail = "the map is not built yet, or has no points"


class Forbidden(ApiError):
    status_code = 403
    detail = "this server has the feature off (the SQL panel: ATLAS_SQL_ENABLED)"


class TooLarge(ApiError):
    status_code = 413
    detail = "the request body is larger than ATLAS_API_MAX_BODY_BYTES"


class Unavailable(ApiError):
    status_code = 503
    detail = ("the database is slow, busy or down, or a model or the chat model is unavailable; "
              f"retry after Retry-After ({RETRY_AFTER_SECONDS}) seconds")


DOCUMENTED_ERRORS = [ValidationException, Forbidden, NotFound, Conflict, TooLarge, Unavailable]


def document_errors(app: Litestar) -> None:
    """Let the OpenAPI schema say which error statuses the API's endpoints answer, all in JSON."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if isinstance(handler, HTTPRouteHandler) and handler.include_in_schema:
                handler.raises = [*DOCUMENTED_ERRORS, *(e for e in handler.raises or [] if e not in DOCUMENTED_ERRORS)]


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        {"status_code": status, "detail": detail}, status_code=status, media_type=MediaType.JSON, headers=headers,
    )


def client_error(request: Request, exc: HTTPException) -> Response:
    """Every HTTP error as JSON, whatever the endpoint's own media type (a tile route errs in JSON too)."""
    body: dict = {"status_code": exc.status_code, "detail": exc.detail}
    if exc.extra:
        body["extra"] = exc.extra
    return Response(body, status_code=exc.status_code, media_type=MediaType.JSON, headers=exc.headers)


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
                  psycopg.DataError):
        # psycopg.DataError: the server's data exceptions, and values psycopg itself cannot send
        # (a NUL character in a text: "PostgreSQL text fields cannot contain NUL (0x00) bytes").
        return _problem(400, message)
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.QueryCanceled):
        return database_unavailable(request, exc)
    log.exception("database error for %s %s", request.method, request.url.path, exc_info=exc)
    return _problem(500, "internal error")


def model_busy(request: Request, exc: ModelBusy) -> Response:
    """A model's queue is full (app/services/query_models.py): refused at once, to be retried shortly."""
    return _problem(503, str(exc), {"Retry-After": str(exc.retry_after)})


EXCEPTION_HANDLERS = {
    HTTPException: client_error,
    ModelBusy: model_busy,
    PoolTimeout: database_unavailable,
    psycopg.OperationalError: database_unavailable,
    psycopg.Error: database_refused,
}
