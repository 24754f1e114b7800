"""The record layouts of a map's binary tiles, shared by their writer (etl/maps/tiles.py) and the API.

Format 2 (13 bytes a point) adds the point's local trust to format 1 (12 bytes); maps.tile_format
(migration 0016) records which one a map's tiles are in. The trust field is one byte,
1 + round(TRUST_STEPS * trust) with trust in [0, 1], and 0 where it is unknown (papers placed after
the build); the API's viewport points carry the same byte. Layouts: docs/maps.md.
"""

from __future__ import annotations

import numpy as np

TILE_FORMAT = 2  # what the map build writes now
RECORDS = {
    1: np.dtype([("qx", "<u2"), ("qy", "<u2"), ("paper", "<u4"), ("category", "<u2"), ("month", "<u2")]),
    2: np.dtype([("qx", "<u2"), ("qy", "<u2"), ("paper", "<u4"), ("category", "<u2"), ("month", "<u2"),
                 ("trust", "u1")]),
}
assert RECORDS[1].itemsize == 12 and RECORDS[2].itemsize == 13
TRUST_STEPS = 200  # tenths (trust over k = 10 neighbours) are exact


def trust_codes(trust: np.ndarray | None, count: int) -> np.ndarray:
    """Local trust in [0, 1] (float, NaN = unknown; None = all unknown) -> the uint8 trust field."""
    if trust is None:
        return np.zeros(count, dtype=np.uint8)
    values = np.asarray(trust, dtype=np.float64)
    codes = np.where(np.isnan(values), 0, 1 + np.round(np.clip(np.nan_to_num(values), 0, 1) * TRUST_STEPS))
    return codes.astype(np.uint8)


def trust_of_codes(codes: np.ndarray) -> np.ndarray:
    """The uint8 trust field -> trust in [0, 1], NaN for 0 (unknown)."""
    values = np.asarray(codes, dtype=np.float64)
    return np.where(values == 0, np.nan, (values - 1) / TRUST_STEPS)
