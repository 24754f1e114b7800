"""2-D coordinates of a map: UMAP (cosine, seeded) on the papers' halfvec(256) embeddings.

- Up to `fit_sample` papers: UMAP fits and embeds them all.
- More: UMAP fits on a seeded sample of `fit_sample` papers; every other paper is placed from its
  k nearest sampled papers, by `place_from_neighbors`. The neighbours are exact (a blocked matrix
  product) while (papers to place) x (sampled papers) is at most EXACT_PLACEMENT_MAX_PAIRS, and come
  from the fitted model's own nearest-neighbour index (pynndescent) above: that index compiles its
  numba code in each new process before its first query, which on small maps takes longer than the
  exact search, and the exact search has no approximation. UMAP's own `transform` starts from a
  weighted average of the same neighbours and then runs optimisation epochs per paper; placing from
  the neighbours alone skips those epochs (bench/map_scale.py times a 1.2M map).
- Tiny maps (fewer papers than UMAP needs) fall back to a 2-D PCA, recorded as such.

The same placement rule puts new papers on an existing map (etl/maps/place.py, from neighbours
found by the HNSW index): old points never move.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from etl.maps.nearest import exact_nearest

PLACEMENT_NEIGHBORS = 10
EXACT_PLACEMENT_MAX_PAIRS = 10**9


@dataclass(frozen=True)
class ProjectionParams:
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    seed: int = 42
    fit_sample: int = 100_000
    n_epochs: int | None = None  # None: umap-learn's choice


def place_from_neighbors(neighbor_xy: np.ndarray, similarity: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Positions from the k nearest placed papers: (m, k, 2) coordinates, (m, k) cosine similarities -> (m, 2).

    The weighted geometric median of the neighbours' positions (Weiszfeld's iteration from the
    weighted mean), weights exp(-(d - d_min) / sigma) with d = 1 - similarity and sigma the mean of
    (d - d_min) over the k: the nearest papers weigh most and the bandwidth adapts to how far the
    neighbours are, as in UMAP's fuzzy neighbourhoods. The median, not the mean: when the
    neighbours sit in two clusters, the mean would land in the empty space between them; the
    median stays with the heavier cluster. sql/idempotent/050-maps.sql (place_on_map) computes the same rule.
    """
    distance = 1.0 - similarity.astype(np.float64)
    gap = distance - distance.min(axis=1, keepdims=True)
    sigma = gap.mean(axis=1, keepdims=True) + 1e-6
    weights = np.exp(-gap / sigma)
    weights /= weights.sum(axis=1, keepdims=True)
    points = neighbor_xy.astype(np.float64)
    position = np.einsum("mk,mkd->md", weights, points)
    for _ in range(iterations):
        spread = np.linalg.norm(points - position[:, None, :], axis=2)
        inverse = weights / np.maximum(spread, 1e-9)
        position = np.einsum("mk,mkd->md", inverse, points) / inverse.sum(axis=1, keepdims=True)
    return position.astype(np.float32)


def _pca_2d(vectors: np.ndarray) -> np.ndarray:
    if len(vectors) == 1:
        return np.zeros((1, 2), dtype=np.float32)
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return coords.astype(np.float32)


def _umap(params: ProjectionParams, n: int):
    import umap  # imported here: it compiles with numba on first use (tens of seconds)

    return umap.UMAP(
        n_neighbors=min(params.n_neighbors, n - 1), min_dist=params.min_dist, metric=params.metric,
        random_state=params.seed, low_memory=True, n_components=2, n_epochs=params.n_epochs,
    )


def project(vectors: np.ndarray, params: ProjectionParams) -> tuple[np.ndarray, dict[str, Any]]:
    """(n, d) embeddings -> (n, 2) float32 coordinates and a record of how they were made."""
    started = time.monotonic()
    n = len(vectors)
    info: dict[str, Any] = {"papers": n, **asdict(params)}
    if n < max(params.n_neighbors + 2, 20):
        info.update(method="pca", reason=f"{n} papers are too few for UMAP")
        return _pca_2d(vectors), info | {"seconds": round(time.monotonic() - started, 2)}

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
        warnings.filterwarnings("ignore", message=".*gradient function is not yet implemented.*")
        if n <= params.fit_sample:
            coords = _umap(params, n).fit_transform(vectors).astype(np.float32)
            info.update(method="umap", fitted=n, placed=0)
            return coords, info | {"seconds": round(time.monotonic() - started, 2)}

        rng = np.random.default_rng(params.seed)
        sample = np.sort(rng.choice(n, size=params.fit_sample, replace=False))
        model = _umap(params, params.fit_sample)
        coords = np.empty((n, 2), dtype=np.float32)
        coords[sample] = model.fit_transform(vectors[sample]).astype(np.float32)
        fitted_at = time.monotonic()
        rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
        exact = len(rest) * len(sample) <= EXACT_PLACEMENT_MAX_PAIRS
        if exact:
            for chunk, neighbors, similarity in exact_nearest(vectors, rest, sample, PLACEMENT_NEIGHBORS):
                coords[chunk] = place_from_neighbors(coords[sample][neighbors], similarity)
        else:
            index = _neighbor_index(model, vectors[sample], params)
            for start in range(0, len(rest), 100_000):
                chunk = rest[start:start + 100_000]
                neighbors, distances = index.query(vectors[chunk], k=PLACEMENT_NEIGHBORS)
                coords[chunk] = place_from_neighbors(coords[sample][neighbors], 1.0 - distances)
    info.update(
        method="umap+neighbors", fitted=int(params.fit_sample), placed=int(len(rest)),
        placement_neighbors="exact" if exact else "pynndescent",
        fit_seconds=round(fitted_at - started, 2), place_seconds=round(time.monotonic() - fitted_at, 2),
    )
    return coords, info | {"seconds": round(time.monotonic() - started, 2)}


def _neighbor_index(model: Any, fitted_vectors: np.ndarray, params: ProjectionParams) -> Any:
    """The fitted model's pynndescent index (umap-learn keeps it for `transform`), else a new one."""
    index = getattr(model, "_knn_search_index", None)
    if index is None:
        from pynndescent import NNDescent

        index = NNDescent(fitted_vectors, metric=params.metric, random_state=params.seed, low_memory=True)
    index.prepare()
    return index
