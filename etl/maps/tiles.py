"""Binary tiles: every point of a map, 12 bytes each, in the tile of its level (docs/maps.md).

One record, little-endian, no padding:

    offset  type    field
    0       uint16  qx        position inside the tile: u = (tile_x + (qx + 0.5) / 65536) / 2^z
    2       uint16  qy        the same for v and tile_y
    4       uint32  paper     papers.id (the API resolves it; /api/papers/... takes arXiv ids)
    8       uint16  category  1-based index into maps.categories of the map's main categories; 0 = none
    10      uint16  month     months since 1970-01 of the first version, plus 1; 0 = unknown

with (u, v) the point's quadtree coordinates in [0, 1) (etl/maps/levels.py): x = origin_x + u * extent.
A tile holds its points in priority order (the first n records are the tile's top n), so a client
may draw a prefix. 65536 steps per tile side: at zoom z a screen tile of 256-512 px gets >= 128
sub-pixel steps, so quantising never shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from etl.maps.levels import Quadtree

RECORD = np.dtype([("qx", "<u2"), ("qy", "<u2"), ("paper", "<u4"), ("category", "<u2"), ("month", "<u2")])
assert RECORD.itemsize == 12


@dataclass
class Tile:
    z: int
    x: int
    y: int
    data: bytes

    @property
    def points(self) -> int:
        return len(self.data) // RECORD.itemsize


def month_codes(published_epoch_months: np.ndarray) -> np.ndarray:
    """Months since 1970-01 (float, NaN = unknown) -> the uint16 month field."""
    months = np.asarray(published_epoch_months, dtype=np.float64)
    codes = np.where(np.isnan(months), 0, np.clip(np.nan_to_num(months), 0, 65534) + 1)
    return codes.astype(np.uint16)


def encode_tiles(
    quadtree: Quadtree, x: np.ndarray, y: np.ndarray, levels: np.ndarray, priority: np.ndarray,
    paper_ids: np.ndarray, categories: np.ndarray, months: np.ndarray,
) -> Iterator[Tile]:
    """Every non-empty tile of a map: the points of level z in tile (tx, ty), in priority order.

    categories: uint16 category field per point; months: uint16 month field per point.
    """
    if len(x) == 0:
        return
    if paper_ids.max(initial=0) >= 2**32:
        raise ValueError("paper ids beyond 2^32 do not fit the tile format's uint32")
    u, v = quadtree.unit(x, y)
    scale = np.left_shift(1, levels.astype(np.int64)).astype(np.float64)
    fu, fv = u * scale, v * scale
    tx, ty = np.floor(fu).astype(np.int64), np.floor(fv).astype(np.int64)
    records = np.empty(len(x), dtype=RECORD)
    records["qx"] = np.clip(np.floor((fu - tx) * 65536), 0, 65535)
    records["qy"] = np.clip(np.floor((fv - ty) * 65536), 0, 65535)
    records["paper"] = paper_ids
    records["category"] = categories
    records["month"] = months
    order = np.lexsort((priority, ty, tx, levels))
    keys = np.stack([levels[order], tx[order], ty[order]], axis=1)
    boundaries = np.r_[0, np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1, len(order)]
    sorted_records = records[order]
    for start, end in zip(boundaries[:-1], boundaries[1:], strict=True):
        z, tile_x, tile_y = (int(k) for k in keys[start])
        yield Tile(z, tile_x, tile_y, sorted_records[start:end].tobytes())


def decode_tile(quadtree: Quadtree, z: int, tile_x: int, tile_y: int, data: bytes) -> np.ndarray:
    """A tile's records with map coordinates added (for tests, tools and the benchmark)."""
    records = np.frombuffer(data, dtype=RECORD)
    scale = float(1 << z)
    out = np.empty(len(records), dtype=[("x", "f8"), ("y", "f8"), ("paper", "u4"), ("category", "u2"),
                                         ("month", "u2")])
    out["x"] = quadtree.origin_x + (tile_x + (records["qx"] + 0.5) / 65536) / scale * quadtree.extent
    out["y"] = quadtree.origin_y + (tile_y + (records["qy"] + 0.5) / 65536) / scale * quadtree.extent
    out["paper"], out["category"], out["month"] = records["paper"], records["category"], records["month"]
    return out
