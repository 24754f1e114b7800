"""What route handlers receive by injection (create_app provides them): the pool, the models, the settings."""

from __future__ import annotations

from litestar.di import NamedDependency

from app.core.pools import Database
from app.core.settings import Settings
from app.services.query_models import QueryModels
from app.services.sql_runner import SqlRunner

Pool = NamedDependency[Database]  # the primary's and the replicas' pools (database.py)
Models = NamedDependency[QueryModels]
AppSettings = NamedDependency[Settings]
SqlPanel = NamedDependency[SqlRunner | None]  # None when the SQL panel is off (app/api/sql.py)
