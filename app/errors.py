"""Which exceptions are the user's to read (one clear line) rather than a bug (a traceback)."""

from __future__ import annotations

import psycopg


def is_user_facing(exc: BaseException) -> bool:
    from app.cli import CommandError
    from app.database import DatabaseError
    from app.embedded_db import EmbeddedDatabaseError
    from app.search import SearchError
    from etl.embedders import EmbeddingError
    from etl.records import StructuralError

    expected = (
        DatabaseError, EmbeddedDatabaseError, StructuralError, SearchError, CommandError, EmbeddingError,
        FileNotFoundError, ValueError,  # SpaceMismatchError is a ValueError
        psycopg.OperationalError, psycopg.errors.RaiseException, psycopg.errors.NoDataFound,
    )
    return isinstance(exc, expected)
