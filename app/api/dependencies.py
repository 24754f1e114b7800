"""What route handlers receive by injection (create_app provides them): the pool, the models, the settings."""

from __future__ import annotations

from litestar.di import NamedDependency

from app.api.database import Database
from app.api.models import QueryModels
from app.settings import Settings

Pool = NamedDependency[Database]  # the primary's and the replicas' pools (database.py)
Models = NamedDependency[QueryModels]
AppSettings = NamedDependency[Settings]
