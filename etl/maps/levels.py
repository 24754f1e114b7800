"""Level of detail: the quadtree of a map and the first zoom level that shows each point.

The quadtree covers the square [origin, origin + extent)^2 around the map's points; level z has
2^z x 2^z tiles. Every point has a priority (a seeded hash of its paper id: a random order that
does not depend on load order). A point's level is the smallest z at which it is among the
`budget` highest-priority points of its level-z tile.

Why this bounds every view: a level-z tile lies inside its parent, so a point's rank in its tile
can only fall as z grows, which makes "shown at zoom z" = "level <= z" = "in the top `budget` of
its level-z tile". Hence at zoom z every tile shows at most `budget` points, and each tile shows
a uniform random sample of its papers (dense regions stay dense-looking, sparse ones show all).
A point is stored once, in its tile at its own level (etl/maps/tiles.py), so a client at zoom z
draws the tiles of levels 0..z that meet its view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LEVEL = 24  # below float32 resolution of any real map; only exact duplicates could reach it


@dataclass(frozen=True)
class Quadtree:
    origin_x: float
    origin_y: float
    extent: float

    @classmethod
    def around(cls, x: np.ndarray, y: np.ndarray, margin: float = 0.02) -> Quadtree:
        """The square centred on the points' bounding box, `margin` larger on each side."""
        if len(x) == 0:
            return cls(0.0, 0.0, 1.0)
        x_min, x_max, y_min, y_max = float(x.min()), float(x.max()), float(y.min()), float(y.max())
        side = max(x_max - x_min, y_max - y_min) or 1.0
        extent = side * (1 + 2 * margin)
        cx, cy = (x_min + x_max) / 2, (y_min + y_max) / 2
        return cls(cx - extent / 2, cy - extent / 2, extent)

    def unit(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates -> [0, 1) quadtree coordinates."""
        u = (np.asarray(x, dtype=np.float64) - self.origin_x) / self.extent
        v = (np.asarray(y, dtype=np.float64) - self.origin_y) / self.extent
        top = np.nextafter(1.0, 0.0)
        return np.clip(u, 0.0, top), np.clip(v, 0.0, top)

    def tiles(self, x: np.ndarray, y: np.ndarray, level: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tile indices of points at a level (a scalar or one level per point); as map_tile_index in SQL."""
        u, v = self.unit(x, y)
        scale = np.left_shift(1, np.asarray(level, dtype=np.int64))
        return (np.floor(u * scale).astype(np.int64), np.floor(v * scale).astype(np.int64))


def point_priority(paper_ids: np.ndarray, seed: int = 0) -> np.ndarray:
    """A seeded random order of papers (splitmix64 of the id): lower value = shown earlier."""
    with np.errstate(over="ignore"):
        z = paper_ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def assign_levels(
    quadtree: Quadtree, x: np.ndarray, y: np.ndarray, priority: np.ndarray, budget: int,
    max_level: int = MAX_LEVEL,
) -> np.ndarray:
    """The level (int16) of each point: the first zoom at which it is in its tile's top `budget`."""
    n = len(x)
    levels = np.full(n, -1, dtype=np.int16)
    if n == 0:
        return levels
    by_priority = np.argsort(priority, kind="stable")
    u, v = quadtree.unit(x[by_priority], y[by_priority])
    pending = np.ones(n, dtype=bool)  # in priority order
    for level in range(max_level + 1):
        scale = 1 << level
        keys = np.floor(u * scale).astype(np.int64) * scale + np.floor(v * scale).astype(np.int64)
        order = np.argsort(keys, kind="stable")  # stable: priority order within each tile
        sorted_keys = keys[order]
        starts = np.r_[0, np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1]
        rank_sorted = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = rank_sorted
        shown = pending & (rank < budget)
        levels[by_priority[shown]] = level
        pending &= ~shown
        if not pending.any():
            break
    levels[by_priority[pending]] = max_level  # exact duplicates beyond the budget: the deepest level
    return levels
