"""The models an API process holds: one query embedder, one reranker, loaded on first use.

Both run in a worker thread (the event loop keeps serving tiles meanwhile), one call at a time per
model: on 2 cores, parallel model calls only slow each other down.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import numpy as np

from app.core.connections import connect
from app.core.errors import AtlasError
from app.core.settings import Settings


class ModelUnavailable(AtlasError):
    """A model the request needs cannot be loaded (missing package, no embedding space yet)."""


class QueryModels:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder: Any = None
        self._space: Any = None
        self._reranker: Any = None
        self._embed_lock = threading.Lock()
        self._rerank_lock = threading.Lock()

    # ---- embedding ------------------------------------------------------------------------
    def _embed_sync(self, text: str) -> np.ndarray:
        from app.core.embedders import make_embedder
        from app.core.space import read_space

        with self._embed_lock:
            if self._space is None:
                with connect(self.settings) as conn:
                    space = read_space(conn)
                if space is None:
                    raise ModelUnavailable("this database has no embedding space yet: load papers with embeddings")
                self._space = space
            if self._embedder is None:
                embedder = make_embedder(self.settings)
                self._space.require_model(embedder.model_name, embedder.dimensions)
                self._embedder = embedder
            return self._space.project(self._embedder.embed([text]))[0]

    async def embed(self, text: str) -> np.ndarray:
        """A query vector in the database's space (model and projection as recorded)."""
        return await anyio.to_thread.run_sync(self._embed_sync, text)

    # ---- reranking ------------------------------------------------------------------------
    def _rerank_sync(self, query: str, candidates: list[dict], top_n: int) -> list[dict]:
        from app.core.reranker import RerankError, make_reranker, rerank

        with self._rerank_lock:
            if self._reranker is None:
                try:
                    self._reranker = make_reranker(self.settings.rerank_model, self.settings.rerank_max_length)
                except RerankError as exc:
                    raise ModelUnavailable(str(exc)) from exc
            return rerank(self._reranker, query, candidates, top_n=top_n)

    async def rerank(self, query: str, candidates: list[dict], top_n: int) -> list[dict]:
        return await anyio.to_thread.run_sync(self._rerank_sync, query, candidates, top_n)
