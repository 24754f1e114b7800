"""Local trustworthiness of a map: for each point, how many of its nearest papers in the embedding
are also its nearest on the map.

    trust(i) = |E_k(i) ∩ M_k(i)| / k,  k = 10

with E_k(i) the k nearest papers of the same map by cosine distance of the embeddings and M_k(i) the
k nearest by Euclidean distance of the 2-D coordinates (the point itself excluded from both). 1 = the
map keeps this paper's neighbourhood, 0 = every paper drawn next to it is a stranger in the embedding.
Computed at build time (`local_trust`, one call in etl/maps/build.py `build_map`), written to
map_points.trust (migration 0014) and into every tile record (etl/maps/tiles.py, tile format 2), so the
web map can colour by it; summarised per topic in analytics.map_topic_trust.

The embedding neighbours are exact (etl/maps/nearest.py) up to EXACT_MAX papers, and from
NN-descent (pynndescent, as UMAP uses) above; the 2-D neighbours come from a k-d tree.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from etl.maps.nearest import exact_nearest, unit_rows

TRUST_NEIGHBORS = 10
EXACT_MAX = 60_000


def embedding_neighbors(vectors: np.ndarray, k: int = TRUST_NEIGHBORS) -> np.ndarray:
    """Row indices of each vector's k nearest others by cosine distance, nearest first (n x k)."""
    n = len(vectors)
    unit = unit_rows(vectors)
    if n > EXACT_MAX:
        from pynndescent import NNDescent

        index = NNDescent(unit, n_neighbors=k + 1, metric="cosine", random_state=0, low_memory=True)
        found, _ = index.neighbor_graph
        return _drop_self(found, k)
    out = np.empty((n, k), dtype=np.int64)
    every = np.arange(n)
    for rows, nearest, _ in exact_nearest(unit, every, every, k, exclude_self=True):
        out[rows] = nearest
    return out


def map_neighbors(coords: np.ndarray, k: int = TRUST_NEIGHBORS) -> np.ndarray:
    """Row indices of each point's k nearest others on the map (Euclidean), nearest first (n x k)."""
    _, found = cKDTree(np.asarray(coords, dtype=np.float64)).query(coords, k=k + 1)
    return _drop_self(np.asarray(found), k)


def _drop_self(found: np.ndarray, k: int) -> np.ndarray:
    """k neighbours per row without the row itself (it may be missing when points coincide)."""
    rows = np.arange(len(found))[:, None]
    keep = found != rows
    out = np.empty((len(found), k), dtype=np.int64)
    for i, (row, mask) in enumerate(zip(found, keep, strict=True)):
        out[i] = row[mask][:k]
    return out


def local_trust(vectors: np.ndarray, coords: np.ndarray, k: int = TRUST_NEIGHBORS) -> np.ndarray:
    """Per point, the share of its k embedding neighbours among its k map neighbours (float32 in [0, 1])."""
    n = len(vectors)
    if n <= k:
        return np.ones(n, dtype=np.float32)
    embedded = embedding_neighbors(vectors, k)
    drawn = map_neighbors(coords, k)
    shared = np.array([len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(embedded, drawn, strict=True)])
    return (shared / k).astype(np.float32)

