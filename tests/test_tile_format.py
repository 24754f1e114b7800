"""Maps whose tiles predate the trust byte (tile format 1, before migration 0016): served as they are,
and rewritten in the current format by `atlas build`.

On a writable copy of the mapped 10k sample, in a module of its own: the copy needs the template free of
sessions, which the module-scoped clients of tests/test_explain.py hold while that module runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from conftest import writable_copy
from litestar.testing import TestClient

from app.api import create_app
from app.core.connections import connect
from app.core.settings import Settings
from etl.maps.build import map_quadtree
from etl.maps.tiles import RECORD, RECORD_V1, decode_tile


def stored_trust(settings: Settings, name: str) -> dict[int, float]:
    with psycopg.connect(settings.database_url) as conn:
        return {key: (np.nan if trust is None else trust) for key, trust in conn.execute(
            "select mp.paper_id, mp.trust from map_points mp join maps m on m.id = mp.map_id where m.name = %s",
            (name,))}


@pytest.fixture
def mapped_copy(mapped_10k: Settings, tmp_path) -> Iterator[Settings]:
    """A writable copy of the mapped 10k database, on the server that holds it."""
    with writable_copy(mapped_10k, "atlas_trust", tmp_path) as settings:
        yield settings


def test_a_map_in_the_old_tile_format_is_served_as_it_is_and_rewritten_by_build(mapped_copy: Settings) -> None:
    from etl.build import build_all

    with connect(mapped_copy) as conn:  # the math map as a build before migration 0016 left it: 12-byte records
        map_id = conn.execute("select id from maps where name = 'math'").fetchone()[0]
        tiles = conn.execute("select z, x, y, data from map_tiles where map_id = %s", (map_id,)).fetchall()
        for z, x, y, data in tiles:
            old = np.frombuffer(bytes(data), dtype=RECORD)[list(RECORD_V1.names)]
            conn.execute("update map_tiles set data = %s, points = %s where map_id = %s and (z, x, y) = (%s, %s, %s)",
                         (np.array(old, dtype=RECORD_V1).tobytes(), len(old), map_id, z, x, y))
        conn.execute("update maps set tile_format = 1 where id = %s", (map_id,))
        conn.commit()
    with TestClient(app=create_app(mapped_copy)) as client:
        listed = {m["name"]: m for m in client.get("/api/maps").json()}
        assert (listed["math"]["tile_format"], listed["math"]["tile_record"]) == (1, 12)
        z, x, y, data = max(tiles, key=lambda t: len(t[3]))
        old_tile = client.get(f"/api/maps/math/tiles/{z}/{x}/{y}")
        assert old_tile.headers["x-tile-format"] == "1"
        assert int(old_tile.headers["x-point-count"]) * 12 == len(old_tile.content) == len(data) // 13 * 12
    lines: list[str] = []
    build_all(mapped_copy, echo=lines.append)
    assert any("rewrote the tiles of math" in line for line in lines), lines
    trust = stored_trust(mapped_copy, "math")
    with connect(mapped_copy) as conn:
        assert conn.execute("select tile_format from maps where id = %s", (map_id,)).fetchone()[0] == 2
        quadtree = map_quadtree(conn, map_id)
        rewritten = conn.execute("select z, x, y, data from map_tiles where map_id = %s", (map_id,)).fetchall()
    decoded = np.concatenate([decode_tile(quadtree, z, x, y, bytes(data)) for z, x, y, data in rewritten])
    assert len(decoded) == len(trust)
    assert np.allclose(decoded["trust"], [trust[int(k)] for k in decoded["paper"]], atol=1e-6, equal_nan=True)
