"""What route handlers receive by injection (create_app provides them): the pool, the models, the settings."""

from __future__ import annotations

from litestar.di import NamedDependency
from psycopg_pool import AsyncConnectionPool

from app.api.models import QueryModels
from app.settings import Settings

Pool = NamedDependency[AsyncConnectionPool]
Models = NamedDependency[QueryModels]
AppSettings = NamedDependency[Settings]
