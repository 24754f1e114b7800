"""Binary tiles: every point of a map, 13 bytes each, in the tile of its level (docs/maps.md).

One record (tile format 2, maps.tile_format), little-endian, no padding:

    offset  type    field
    0       uint16  qx        position inside the tile: u = (tile_x + (qx + 0.5) / 65536) / 2^z
    2       uint16  qy        the same for v and tile_y
    4       uint32  paper     papers.id (the API resolves it; /api/papers/... takes arXiv ids)
    8       uint16  category  1-based index into maps.categories of the map's main categories; 0 = none
    10      uint16  month     months since 1970-01 of the first version, plus 1; 0 = unknown
    12      uint8   trust     map_points.trust (etl/maps/trust.py) as 1 + round(200 * trust); 0 = unknown

with (u, v) the point's quadtree coordinates in [0, 1) (etl/maps/levels.py): x = origin_x + u * extent.
Format 1 (maps built before migration 0016) is the same record without `trust`, 12 bytes; the API
says which format a map's tiles are in, and `atlas build` rewrites the tiles of a map in an older one.
A tile holds its points in priority order (the first n records are the tile's top n), so a client
may draw a prefix. 65536 steps per tile side: at zoom z a screen tile of 256-512 px gets >= 128
sub-pixel steps, so quantising never shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from app.core.tile_format import RECORDS, TILE_FORMAT, trust_codes, trust_of_codes
from etl.maps.levels import Quadtree

__all__ = ["RECORD", "RECORD_V1", "TILE_FORMAT", "Tile", "decode_tile", "encode_tiles", "month_codes", "trust_codes"]

RECORD_V1, RECORD = RECORDS[1], RECORDS[TILE_FORMAT]  # format 1 (before migration 0016), the current one


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
    paper_ids: np.ndarray, categories: np.ndarray, months: np.ndarray, trust: np.ndarray | None = None,
) -> Iterator[Tile]:
    """Every non-empty tile of a map: the points of level z in tile (tx, ty), in priority order.

    categories: uint16 category field per point; months: uint16 month field per point; trust: uint8
    trust field per point (`trust_codes`; None = unknown for all).
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
    records["trust"] = trust if trust is not None else 0
    order = np.lexsort((priority, ty, tx, levels))
    keys = np.stack([levels[order], tx[order], ty[order]], axis=1)
    boundaries = np.r_[0, np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1, len(order)]
    sorted_records = records[order]
    for start, end in zip(boundaries[:-1], boundaries[1:], strict=True):
        z, tile_x, tile_y = (int(k) for k in keys[start])
        yield Tile(z, tile_x, tile_y, sorted_records[start:end].tobytes())


def decode_tile(
    quadtree: Quadtree, z: int, tile_x: int, tile_y: int, data: bytes, tile_format: int = TILE_FORMAT,
) -> np.ndarray:
    """A tile's records with map coordinates and trust (NaN = unknown) added (tests, tools, the benchmark)."""
    records = np.frombuffer(data, dtype=RECORDS[tile_format])
    scale = float(1 << z)
    out = np.empty(len(records), dtype=[("x", "f8"), ("y", "f8"), ("paper", "u4"), ("category", "u2"),
                                         ("month", "u2"), ("trust", "f4")])
    out["x"] = quadtree.origin_x + (tile_x + (records["qx"] + 0.5) / 65536) / scale * quadtree.extent
    out["y"] = quadtree.origin_y + (tile_y + (records["qy"] + 0.5) / 65536) / scale * quadtree.extent
    out["paper"], out["category"], out["month"] = records["paper"], records["category"], records["month"]
    out["trust"] = trust_of_codes(records["trust"]) if tile_format >= 2 else np.nan
    return out
