"""One base class for the errors a person is meant to read.

Every error of Arxiv Atlas that says what the user (or the data) got wrong derives from AtlasError;
the CLI prints those in one line (exit 1) and lets anything else raise with a traceback, as a bug.
"""

from __future__ import annotations

import psycopg


class AtlasError(Exception):
    """An error whose message is for the person at the terminal or the API client."""


# Errors raised by the database or the OS that are still the user's to read: a server that is down,
# a RAISE in one of the SQL functions (bad id, bad filter), a file that does not exist.
_FOREIGN_USER_ERRORS = (
    FileNotFoundError, psycopg.OperationalError, psycopg.errors.RaiseException, psycopg.errors.NoDataFound,
)


def is_user_facing(exc: BaseException) -> bool:
    return isinstance(exc, (AtlasError, *_FOREIGN_USER_ERRORS))
