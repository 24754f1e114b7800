"""The models an API process holds: one query embedder and one reranker, each behind a micro-batcher.

- State: each model is `idle` (loads on first use), `loading`, `ready` or `unavailable` (with the
  reason). A model that failed to load is remembered as unavailable: later requests are refused at
  once instead of paying a load attempt each (a database whose vectors come from a model that is not
  here, a reranker package that is missing). `warm()` loads both and runs each once, so that the
  first real query is fast; `atlas serve` calls it before /api/health says ready.
- Batching: concurrent requests to one model wait a few milliseconds (ATLAS_MODEL_BATCH_WINDOW_MS)
  and while the model is busy, then go to the model in one call (identical requests share one
  slot). Model calls run in a worker thread, one at a time per model: on 2 cores, parallel model
  calls only slow each other down, and the event loop keeps serving tiles meanwhile.
- Caches: query vectors and reranked orders of repeated queries come from LRU caches
  (ATLAS_QUERY_CACHE_SIZE entries each).
- Back-pressure: each model admits at most ATLAS_MODEL_QUEUE_SIZE waiting requests; one more is
  refused at once with ModelBusy (the API answers 503 with Retry-After).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from app.core.connections import connect
from app.core.errors import AtlasError
from app.core.settings import Settings

log = logging.getLogger("atlas.models")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
WARM_QUERY = "graph neural networks for molecule property prediction"
BUSY_RETRY_AFTER_SECONDS = 1


class ModelUnavailable(AtlasError):
    """A model the request needs cannot be loaded (missing package, another embedding space, no space yet)."""


class ModelBusy(AtlasError):
    """A model's queue is full: the request is refused at once (503 with Retry-After)."""

    retry_after = BUSY_RETRY_AFTER_SECONDS


class LruCache(Generic[K, V]):
    """A small least-recently-used cache (used from the event loop only)."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.size == 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class _Batch(Generic[K, V]):
    future: asyncio.Future
    items: list[K] = field(default_factory=list)
    index: dict[K, int] = field(default_factory=dict)


class MicroBatcher(Generic[K, V]):
    """Collects concurrent requests for one model and runs them as one call of `run(items) -> results`.

    A batch opens with its first request, stays open for `window_s` and for as long as the previous
    batch is still running (up to `max_batch` distinct items), then runs in a worker thread.
    """

    def __init__(self, name: str, run: Callable[[list[K]], Sequence[V]], *, window_s: float, max_batch: int,
                 max_waiting: int) -> None:
        self.name = name
        self._run = run
        self.window_s = max(0.0, window_s)
        self.max_batch = max(1, max_batch)
        self.max_waiting = max(1, max_waiting)
        self.waiting = 0  # admitted requests not answered yet
        self.calls = 0  # model calls made
        self.items = 0  # distinct items sent to the model
        self.refused = 0  # requests refused because the queue was full
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._open: _Batch | None = None
        self._tasks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    def _bind(self) -> asyncio.AbstractEventLoop:
        # One app may run on several event loops in turn (a test client per `with` block).
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._lock, self._open = loop, asyncio.Lock(), None
        return loop

    async def submit(self, item: K) -> V:
        loop = self._bind()
        if self.waiting >= self.max_waiting:
            self.refused += 1
            raise ModelBusy(f"the {self.name} has {self.waiting} requests waiting (ATLAS_MODEL_QUEUE_SIZE="
                            f"{self.max_waiting}); retry in {BUSY_RETRY_AFTER_SECONDS} s")
        self.waiting += 1
        try:
            batch = self._open
            if batch is None or (item not in batch.index and len(batch.items) >= self.max_batch):
                batch = _Batch(loop.create_future())
                self._open = batch
                task = loop.create_task(self._flush(batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            position = batch.index.get(item)
            if position is None:
                position = batch.index[item] = len(batch.items)
                batch.items.append(item)
            # shield: a client that goes away does not cancel the batch of the others
            results = await asyncio.shield(batch.future)
            return results[position]
        finally:
            self.waiting -= 1

    async def _flush(self, batch: _Batch) -> None:
        await asyncio.sleep(self.window_s)
        assert self._lock is not None
        async with self._lock:  # while the previous batch runs, this one keeps collecting
            if self._open is batch:
                self._open = None
            self.calls += 1
            self.items += len(batch.items)
            try:
                results = await asyncio.to_thread(self._run, list(batch.items))
            except BaseException as exc:  # noqa: BLE001 - every waiter gets the model's error
                batch.future.set_exception(exc)
                batch.future.exception()  # retrieved: no "never retrieved" warning when all waiters left
            else:
                batch.future.set_result(list(results))


@dataclass(frozen=True)
class RerankRequest:
    """One query's candidates to rescore; hashable so that identical requests share a slot and a cache entry."""

    query: str
    texts: tuple[str, ...]
    top_n: int


class QueryModels:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder: Any = None
        self._space: Any = None
        self._reranker: Any = None
        self._load_lock = threading.Lock()  # loading either model (both load from worker threads)
        self.state = {"embedder": "idle", "reranker": "idle"}
        self.reason: dict[str, str | None] = {"embedder": None, "reranker": None}
        self.vector_cache: LruCache[str, np.ndarray] = LruCache(settings.query_cache_size)
        self.rerank_cache: LruCache[RerankRequest, list[tuple[int, float]]] = LruCache(settings.query_cache_size)
        self.cache_hits = {"embedder": 0, "reranker": 0}
        window = settings.model_batch_window_ms / 1000
        self.embed_batcher: MicroBatcher[str, np.ndarray] = MicroBatcher(
            "query embedder", self._embed_batch, window_s=window, max_batch=settings.embed_batch_size,
            max_waiting=settings.model_queue_size)
        self.rerank_batcher: MicroBatcher[RerankRequest, list[tuple[int, float]]] = MicroBatcher(
            "reranker", self._rerank_batch, window_s=window, max_batch=8, max_waiting=settings.model_queue_size)

    # ---- state ----------------------------------------------------------------------------
    def _unavailable(self, model: str, reason: str) -> ModelUnavailable:
        self.state[model], self.reason[model] = "unavailable", reason
        log.warning("the %s is unavailable: %s", model, reason)
        return ModelUnavailable(reason)

    def _refuse_if_unavailable(self, model: str) -> None:
        if self.state[model] == "unavailable":
            raise ModelUnavailable(self.reason[model] or f"the {model} is unavailable")

    @property
    def ready(self) -> bool:
        """No model is loading (an unavailable model is reported, and does not hold the API back)."""
        return "loading" not in self.state.values()

    def describe(self) -> dict[str, dict[str, Any]]:
        """Each model's state for /api/health."""
        batchers = {"embedder": self.embed_batcher, "reranker": self.rerank_batcher}
        return {
            name: {"state": self.state[name], "reason": self.reason[name], "calls": batchers[name].calls,
                   "items": batchers[name].items, "cache_hits": self.cache_hits[name],
                   "waiting": batchers[name].waiting, "refused": batchers[name].refused}
            for name in ("embedder", "reranker")
        }

    # ---- loading --------------------------------------------------------------------------
    def _load_embedder(self) -> None:
        from app.core.embedders import make_embedder
        from app.core.space import SpaceMismatchError, read_space

        if self._embedder is not None:
            return
        self._refuse_if_unavailable("embedder")
        with self._load_lock:
            if self._embedder is not None:
                return
            self._refuse_if_unavailable("embedder")
            if self._space is None:
                with connect(self.settings) as conn:
                    space = read_space(conn)
                if space is None:  # not remembered: a load may record the space while the API runs
                    raise ModelUnavailable("this database has no embedding space yet: load papers with embeddings")
                self._space = space
            self.state["embedder"] = "loading"
            try:
                embedder = make_embedder(self.settings)
                # the model's name first: a database of another space is refused without loading a model
                self._space.require_model_name(embedder.model_name)
                self._space.require_model(embedder.model_name, embedder.dimensions)
            except (SpaceMismatchError, AtlasError, ValueError, ImportError, OSError) as exc:
                raise self._unavailable("embedder", str(exc)) from exc
            self._embedder = embedder
            self.state["embedder"], self.reason["embedder"] = "ready", None

    def _load_reranker(self) -> None:
        from app.core.reranker import RerankError, make_reranker

        if self._reranker is not None:
            return
        self._refuse_if_unavailable("reranker")
        with self._load_lock:
            if self._reranker is not None:
                return
            self._refuse_if_unavailable("reranker")
            self.state["reranker"] = "loading"
            try:
                reranker = make_reranker(self.settings.rerank_model, self.settings.rerank_max_length)
            except (RerankError, ImportError, OSError, ValueError) as exc:
                raise self._unavailable("reranker", str(exc)) from exc
            self._reranker = reranker
            self.state["reranker"], self.reason["reranker"] = "ready", None

    def warm_sync(self) -> None:
        """Load both models and run each once (first calls pay for lazy initialisation)."""
        for name, warm in (("embedder", self._warm_embedder), ("reranker", self._warm_reranker)):
            try:
                warm()
            except ModelUnavailable as exc:
                if self.state[name] != "unavailable":  # no space yet: loads on first use
                    self.state[name], self.reason[name] = "idle", str(exc)
            except Exception as exc:  # noqa: BLE001 - a warm-up failure is reported, not fatal
                self._unavailable(name, f"{type(exc).__name__}: {exc}")

    def _warm_embedder(self) -> None:
        self._load_embedder()
        self._embed_batch([WARM_QUERY])

    def _warm_reranker(self) -> None:
        self._load_reranker()
        self._rerank_batch([RerankRequest(WARM_QUERY, ("Graph networks. We predict properties of molecules.",), 1)])

    def mark_loading(self) -> None:
        """Both models count as loading from now on (until `warm` ends): health is not ready meanwhile."""
        for name in self.state:
            if self.state[name] == "idle":
                self.state[name] = "loading"

    async def warm(self) -> None:
        """`warm_sync` in a worker thread, with both models marked loading from the start."""
        self.mark_loading()
        try:
            await asyncio.to_thread(self.warm_sync)
        finally:
            for name in self.state:
                if self.state[name] == "loading":
                    self.state[name] = "idle"

    # ---- embedding ------------------------------------------------------------------------
    def _embed_batch(self, texts: list[str]) -> list[np.ndarray]:
        from app.core.embedders import EmbeddingError

        self._load_embedder()
        try:
            return list(self._space.project(self._embedder.embed(texts)))
        except EmbeddingError as exc:  # a provider that failed for this batch (not remembered)
            raise ModelUnavailable(str(exc)) from exc

    async def embed(self, text: str) -> np.ndarray:
        """A query vector in the database's space (model and projection as recorded)."""
        self._refuse_if_unavailable("embedder")
        vector = self.vector_cache.get(text)
        if vector is not None:
            self.cache_hits["embedder"] += 1
            return vector
        vector = await self.embed_batcher.submit(text)
        self.vector_cache.put(text, vector)
        return vector

    # ---- reranking ------------------------------------------------------------------------
    def _rerank_batch(self, requests: list[RerankRequest]) -> list[list[tuple[int, float]]]:
        from app.core.reranker import rerank

        self._load_reranker()
        out = []
        for request in requests:
            candidates = [{"title": text, "i": i} for i, text in enumerate(request.texts)]
            ranked = rerank(self._reranker, request.query, candidates, text_of=lambda c: c["title"],
                            top_n=request.top_n)
            out.append([(c["i"], c["rerank_score"]) for c in ranked])
        return out

    async def rerank(self, query: str, candidates: list[dict], top_n: int) -> list[dict]:
        """Candidates in the cross-encoder's order, best first, at most top_n, each with `rerank_score`."""
        from app.core.reranker import paper_text

        self._refuse_if_unavailable("reranker")
        if not candidates:
            return []
        request = RerankRequest(query, tuple(paper_text(c) for c in candidates), top_n)
        order = self.rerank_cache.get(request)
        if order is not None:
            self.cache_hits["reranker"] += 1
        else:
            order = await self.rerank_batcher.submit(request)
            self.rerank_cache.put(request, order)
        return [{**candidates[i], "rerank_score": score} for i, score in order]
