"""Exact nearest neighbours by cosine similarity: blocked matrix products over unit vectors.

Used where the sets are small enough that exact search beats building an approximate index
(pynndescent compiles its numba code in each new process before its first query): the placement of
papers outside a map's fit sample (etl/maps/projection.py) and the embedding neighbours of the trust
layer (etl/maps/trust.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

MAX_BLOCK_CELLS = 2**26  # float32 similarities held at once: 256 MB


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """The rows scaled to length 1, as float32 (an all-zero row stays zero)."""
    x = np.asarray(vectors, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def exact_nearest(
    vectors: np.ndarray, rows: np.ndarray, among: np.ndarray, k: int, *, exclude_self: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each row index in `rows`, its k most similar of the row indices `among` (sorted), exact.

    Yields, a block of rows at a time: (the block's row indices, (b, k) positions in `among` nearest
    first, (b, k) cosine similarities). exclude_self: a row is not its own neighbour (for `rows` drawn
    from `among`). A block's similarity matrix holds at most MAX_BLOCK_CELLS floats.
    """
    candidates = unit_rows(vectors[among])
    k = min(k, len(among) - (1 if exclude_self else 0))
    block = max(1, MAX_BLOCK_CELLS // max(1, len(among)))
    for start in range(0, len(rows), block):
        chunk = rows[start:start + block]
        similarity = unit_rows(vectors[chunk]) @ candidates.T
        if exclude_self:
            position = np.minimum(np.searchsorted(among, chunk), len(among) - 1)
            own = np.nonzero(among[position] == chunk)[0]
            similarity[own, position[own]] = -np.inf
        top = np.argpartition(similarity, len(among) - k, axis=1)[:, len(among) - k:]
        top_similarity = np.take_along_axis(similarity, top, axis=1)
        order = np.argsort(-top_similarity, axis=1, kind="stable")
        yield chunk, np.take_along_axis(top, order, axis=1), np.take_along_axis(top_similarity, order, axis=1)
