"""The database's embedding space: which model made the vectors and how they become halfvec(256).

One database, one space. The first load with vectors records it (fitting a PCA when the model is
wider than 256 dimensions); later loads and every query are projected with the stored projection,
and vectors of another model or width are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from pgvector import Vector

from app.core.errors import AtlasError

TARGET_DIMENSIONS = 256

# Sentence-transformers models people name without their hub prefix (in any letter case),
# mapped to the canonical hub names.
_SENTENCE_TRANSFORMERS = {
    name.lower(): f"sentence-transformers/{name}"
    for name in (
        "all-MiniLM-L6-v2", "all-MiniLM-L12-v2", "all-mpnet-base-v2", "multi-qa-MiniLM-L6-cos-v1",
        "all-distilroberta-v1", "paraphrase-MiniLM-L6-v2",
    )
}


class SpaceMismatchError(AtlasError, ValueError):
    """Vectors of another model or width than the database's recorded space."""


def canonical_model_name(name: str) -> str:
    """`all-MiniLM-L6-v2` and `sentence-transformers/all-MiniLM-L6-v2` are the same model."""
    name = name.strip()
    return _SENTENCE_TRANSFORMERS.get(name.lower().removeprefix("sentence-transformers/"), name)


@dataclass
class EmbeddingSpace:
    model: str
    native_dimensions: int
    projection: str  # none | pca | truncate | pad
    mean: np.ndarray | None = None  # (native,) for pca
    components: np.ndarray | None = None  # (256, native) for pca
    explained_variance: float | None = None
    fitted_on_papers: int | None = None

    def require_model_name(self, model: str) -> None:
        """`require_model` before the model's width is known (checking it needs no model loaded)."""
        if canonical_model_name(model) != self.model:
            self.require_model(model, self.native_dimensions)

    def require_model(self, model: str, native_dimensions: int) -> None:
        model = canonical_model_name(model)
        if model != self.model or native_dimensions != self.native_dimensions:
            raise SpaceMismatchError(
                f"this database holds vectors of {self.model} ({self.native_dimensions} dimensions); "
                f"refusing vectors of {model} ({native_dimensions} dimensions): one database, one "
                "embedding space (use another database, or set ATLAS_EMBEDDING_PROVIDER / the model "
                "settings to the recorded model)"
            )

    def project(self, native: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """(n, native) vectors -> (n, 256) unit-length float16, as stored in `papers.embedding`.

        In float64: a float32 matrix product rounds differently depending on how many rows it is
        given (BLAS picks other kernels and summation orders), and that difference flipped the last
        bit of some float16 values, so the same paper projected alone and in a batch differed. The
        float64 error is ~1e-16, far below a float16 step (~1e-3), so rows project the same in any batch.
        """
        native = np.asarray(native)
        if native.ndim != 2 or native.shape[1] != self.native_dimensions:
            raise SpaceMismatchError(
                f"expected vectors of {self.native_dimensions} dimensions, got shape {native.shape}"
            )
        out = np.empty((native.shape[0], TARGET_DIMENSIONS), dtype=np.float16)
        for start in range(0, native.shape[0], chunk):
            block = np.asarray(native[start:start + chunk], dtype=np.float64)
            if self.projection == "pca":
                assert self.mean is not None and self.components is not None
                block = (block - self.mean.astype(np.float64)) @ self.components.T.astype(np.float64)
            elif self.projection == "truncate":
                block = block[:, :TARGET_DIMENSIONS]
            elif self.projection == "pad":
                block = np.pad(block, ((0, 0), (0, TARGET_DIMENSIONS - block.shape[1])))
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            out[start:start + chunk] = (block / norms).astype(np.float16)
        return out


def fit_space(model: str, vectors: np.ndarray, projection: str = "pca", chunk: int = 65536) -> EmbeddingSpace:
    """Record a new space for `model` from the corpus `vectors` (n, native)."""
    model = canonical_model_name(model)
    n, native = vectors.shape
    if native == TARGET_DIMENSIONS:
        return EmbeddingSpace(model, native, "none", fitted_on_papers=n)
    if native < TARGET_DIMENSIONS:
        return EmbeddingSpace(model, native, "pad", fitted_on_papers=n)
    if projection == "truncate":  # right for Matryoshka models such as text-embedding-3
        return EmbeddingSpace(model, native, "truncate", fitted_on_papers=n)
    if n < 2:
        raise SpaceMismatchError(f"a PCA from {native} to 256 dimensions needs at least 2 papers, got {n}")
    # PCA through the covariance matrix, accumulated in chunks so that 1.2M rows fit in memory.
    total = np.zeros(native, dtype=np.float64)
    for start in range(0, n, chunk):
        total += np.asarray(vectors[start:start + chunk], dtype=np.float64).sum(axis=0)
    mean = total / n
    covariance = np.zeros((native, native), dtype=np.float64)
    for start in range(0, n, chunk):
        centred = np.asarray(vectors[start:start + chunk], dtype=np.float64) - mean
        covariance += centred.T @ centred
    covariance /= max(n - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1][:TARGET_DIMENSIONS]
    components = eigenvectors[:, order].T
    # Deterministic signs: the largest loading of each component is positive.
    signs = np.sign(components[np.arange(TARGET_DIMENSIONS), np.abs(components).argmax(axis=1)])
    components *= signs[:, None]
    explained = float(eigenvalues[order].sum() / eigenvalues.sum()) if eigenvalues.sum() > 0 else 1.0
    return EmbeddingSpace(
        model, native, "pca", mean.astype(np.float32), components.astype(np.float32), explained, n
    )


def read_space(conn: psycopg.Connection) -> EmbeddingSpace | None:
    row = conn.execute(
        "select model, native_dimensions, projection, projection_mean, projection_components, "
        "explained_variance, fitted_on_papers from embedding_space"
    ).fetchone()
    if row is None:
        return None
    model, native, projection, mean, components, explained, fitted = row
    return EmbeddingSpace(
        model, native, projection,
        mean.to_numpy() if mean is not None else None,
        np.stack([c.to_numpy() for c in components]) if components is not None else None,
        explained, fitted,
    )


def record_space(conn: psycopg.Connection, space: EmbeddingSpace) -> None:
    """Store a new space (the caller's transaction decides when it becomes visible)."""
    conn.execute(
        "insert into embedding_space (model, native_dimensions, projection, projection_mean, "
        "projection_components, explained_variance, fitted_on_papers) "
        "values (%(model)s, %(native)s, %(projection)s, %(mean)s, %(components)s, %(explained)s, %(fitted)s)",
        {
            "model": space.model, "native": space.native_dimensions, "projection": space.projection,
            "mean": Vector(space.mean) if space.mean is not None else None,
            "components": [Vector(c) for c in space.components] if space.components is not None else None,
            "explained": space.explained_variance, "fitted": space.fitted_on_papers,
        },
    )
