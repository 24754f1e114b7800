"""Papers per month in each tile of a map, computed with the tiles, for the web map's growth colouring.

One blob per map (map_month_density, level DENSITY_LEVEL), little-endian, no header (the row holds
level, first_month and months):

    per non-empty tile of the level, in (ty, tx) order:
        uint16 tx, uint16 ty, then `months` x uint16: papers of month first_month + i (saturating at 65535)

Months are the tile format's month field (months since 1970-01 plus 1). Every point of the map
counts, whatever its level of detail, so the density is the true one, not the drawn sample. At
level 4 (16 x 16 tiles) and 30 years this is at most 256 x (4 + 720) bytes, about 185 kB.
"""

from __future__ import annotations

import numpy as np
import psycopg

from etl.maps.levels import Quadtree
from etl.maps.tiles import month_codes

DENSITY_LEVEL = 4


def month_density(
    quadtree: Quadtree, x: np.ndarray, y: np.ndarray, months: np.ndarray, level: int = DENSITY_LEVEL,
) -> tuple[int, int, int, bytes]:
    """(first_month, months, tiles, blob) for points with month codes (0 = unknown, left out)."""
    codes = month_codes(months).astype(np.int64)
    known = codes > 0
    if not known.any():
        return 0, 1, 0, b""
    u, v = quadtree.unit(np.asarray(x)[known], np.asarray(y)[known])
    side = 1 << level
    tx = np.clip(np.floor(u * side).astype(np.int64), 0, side - 1)
    ty = np.clip(np.floor(v * side).astype(np.int64), 0, side - 1)
    codes = codes[known]
    first, last = int(codes.min()), int(codes.max())
    span = last - first + 1
    counts = np.zeros((side * side, span), dtype=np.int64)
    np.add.at(counts, (ty * side + tx, codes - first), 1)
    tiles = np.flatnonzero(counts.sum(axis=1))
    record = np.dtype([("tx", "<u2"), ("ty", "<u2"), ("counts", "<u2", (span,))])
    out = np.zeros(len(tiles), dtype=record)
    out["tx"], out["ty"] = tiles % side, tiles // side
    out["counts"] = np.minimum(counts[tiles], 65535)
    return first, span, len(tiles), out.tobytes()


def write_month_density(
    conn: psycopg.Connection, map_id: int, quadtree: Quadtree, x: np.ndarray, y: np.ndarray, months: np.ndarray,
) -> None:
    first, span, tiles, blob = month_density(quadtree, x, y, months)
    conn.execute("delete from map_month_density where map_id = %s", (map_id,))
    conn.execute(
        "insert into map_month_density (map_id, level, first_month, months, tiles, data) "
        "values (%s, %s, %s, %s, %s, %s)",
        (map_id, DENSITY_LEVEL, first, span, tiles, blob),
    )
