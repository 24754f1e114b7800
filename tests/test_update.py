"""`atlas update`: a day's papers onto the built 10k atlas, touching only what they change.

200 real papers of the 100k sample that the 10k sample lacks go through the whole daily path on a copy
of the mapped 10k database: old points keep their coordinates byte for byte, the new ones are placed,
neighbour lists are written both ways, only the tiles whose points changed are rewritten (and the tiles
equal a full rewrite), topic counts grow only where papers joined.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from conftest import writable_copy

from app.cli import main
from app.core.connections import connect
from app.core.settings import Settings
from etl.maps.build import map_quadtree, read_map_points, write_layout
from etl.maps.levels import assign_levels, point_priority
from etl.maps.tiles import encode_tiles, month_codes, trust_codes

NEW_PAPERS = 200
TILE_POINTS = 64


def write_new_papers(shared_data: Path, folder: Path, count: int) -> list[str]:
    """`count` papers of the 100k sample absent from the 10k one, as arxiv-new.jsonl.gz + its .npy beside it."""
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8") as f:
        known = {json.loads(line)["arxiv_id"] for line in f}
    rows: list[int] = []
    lines: list[str] = []
    with gzip.open(shared_data / "arxiv-100k.jsonl.gz", "rt", encoding="utf-8") as f:
        for row, line in enumerate(f):
            if row % 97 == 0 and json.loads(line)["arxiv_id"] not in known:  # spread over the file
                rows.append(row)
                lines.append(line)
                if len(rows) == count:
                    break
    with gzip.open(folder / "arxiv-new.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("".join(lines))
    vectors = np.load(shared_data / "arxiv-100k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")
    np.save(folder / "arxiv-new.all-MiniLM-L6-v2.f16.npy", np.ascontiguousarray(vectors[rows]))
    return [json.loads(line)["arxiv_id"] for line in lines]


@pytest.fixture
def atlas_copy(mapped_10k: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A writable copy of the mapped 10k database (maps all, math, cs; tiles; topics; neighbour lists),
    on the server that holds it."""
    with writable_copy(mapped_10k, "atlas_update", tmp_path, tries=20, tile_points=TILE_POINTS) as settings:
        # Smaller tiles than the fixture's: a deeper quadtree, so that a day's papers miss some tiles.
        with connect(settings) as conn:
            for (map_id,) in conn.execute("select id from maps order by id").fetchall():
                write_layout(conn, map_id, read_map_points(conn, map_id), map_quadtree(conn, map_id), TILE_POINTS,
                             settings.map_seed, points_written=True)
            conn.commit()
        yield settings


def snapshot(settings: Settings) -> dict:
    with connect(settings) as conn:
        return {
            "points": {(m, p): (x, y) for m, p, x, y in conn.execute(
                "select map_id, paper_id, float4send(x), float4send(y) from map_points")},
            "tiles": {(m, z, x, y): (xmin, digest) for m, z, x, y, xmin, digest in conn.execute(
                "select map_id, z, x, y, xmin::text, md5(data) from map_tiles")},
            "sizes": dict(conn.execute("select id, paper_count from maps").fetchall()),
            "topics": {(m, level, topic): size for m, level, topic, size in conn.execute(
                "select map_id, level, topic, size from map_topics")},
        }


def full_rewrite(conn: psycopg.Connection, map_id: int, budget: int, seed: int) -> dict[tuple, bytes]:
    """The tiles `write_layout` would write for the map's current points (what an incremental update must equal)."""
    points = read_map_points(conn, map_id)
    quadtree = map_quadtree(conn, map_id)
    names = conn.execute("select categories from maps where id = %s", (map_id,)).fetchone()[0]
    codes = np.array([names.index(c) + 1 if c in names else 0 for c in points.main_categories], dtype=np.uint16)
    priority = point_priority(points.paper_ids, seed)
    levels = assign_levels(quadtree, points.x, points.y, priority, budget)
    return {(map_id, t.z, t.x, t.y): t.data for t in encode_tiles(
        quadtree, points.x, points.y, levels, priority, points.paper_ids, codes, month_codes(points.months),
        trust_codes(points.trust, len(points.paper_ids)))}


def test_atlas_update_adds_a_day_of_papers_touching_only_what_they_change(
    atlas_copy: Settings, shared_data: Path, tmp_path: Path, monkeypatch, capsys,
) -> None:
    new_ids = write_new_papers(shared_data, tmp_path, NEW_PAPERS)
    assert len(new_ids) == NEW_PAPERS
    before = snapshot(atlas_copy)
    monkeypatch.setenv("DATABASE_URL", atlas_copy.database_url)
    monkeypatch.setenv("ATLAS_TILE_POINTS", str(atlas_copy.tile_points))
    monkeypatch.setenv("ATLAS_MAP_REBUILD_SHARE", "0.01")  # 200 of 10k papers placed on `all`: due
    assert main(["update", str(tmp_path / "arxiv-new.jsonl.gz"), "--embeddings", "auto"]) == 0
    out = capsys.readouterr().out
    assert f"update: {NEW_PAPERS} papers new, 0 updated" in out
    for step in ("load", "embeddings", "index", "neighbours", "maps"):
        assert any(line.lstrip().startswith(step) and " s " in line for line in out.splitlines()), (step, out)
    assert "rebuild due for all" in out

    after = snapshot(atlas_copy)
    # Old points keep their coordinates byte for byte; every new paper is on the map of all papers.
    assert all(after["points"][key] == xy for key, xy in before["points"].items())
    with connect(atlas_copy) as conn:
        new = dict(conn.execute("select arxiv_id, id from papers where arxiv_id = any(%s)", (new_ids,)).fetchall())
        all_map = conn.execute("select id from maps where name = 'all'").fetchone()[0]
        on_all = conn.execute(
            "select count(*) from map_points where map_id = %s and paper_id = any(%s) and placed",
            (all_map, list(new.values())),
        ).fetchone()[0]
        # Neighbour lists: each new paper has its own, and older lists took new papers in.
        listed = conn.execute(
            "select count(distinct paper_id), count(*) from paper_neighbors where paper_id = any(%s)",
            (list(new.values()),),
        ).fetchone()
        older_with_new = conn.execute(
            "select count(distinct paper_id) from paper_neighbors where neighbor_id = any(%s) "
            "and not paper_id = any(%s)", (list(new.values()), list(new.values())),
        ).fetchone()[0]
        new_tiles = {(all_map, *key) for key in conn.execute(
            "select level, tile_x, tile_y from map_points where map_id = %s and paper_id = any(%s)",
            (all_map, list(new.values())),
        )}
        maps = [r[0] for r in conn.execute("select id from maps order by id")]
        expected = {}
        for map_id in maps:
            expected.update(full_rewrite(conn, map_id, atlas_copy.tile_points, atlas_copy.map_seed))
        stored = {(m, z, x, y): bytes(d)
                  for m, z, x, y, d in conn.execute("select map_id, z, x, y, data from map_tiles")}
        sizes = conn.execute(
            "select m.id, m.paper_count, t.level, sum(t.size) from maps m join map_topics t on t.map_id = m.id "
            "group by 1, 2, 3"
        ).fetchall()
        untopiced = conn.execute("select count(*) from map_points where topics = '{}'").fetchone()[0]
    assert len(new) == NEW_PAPERS and on_all == NEW_PAPERS
    assert listed == (NEW_PAPERS, NEW_PAPERS * atlas_copy.neighbors_k)
    assert older_with_new > 0

    # Tiles: the stored ones equal a full rewrite, and only those whose bytes changed were written.
    assert stored == expected
    old_tiles = before["tiles"]
    rewritten = {key for key, (xmin, _) in after["tiles"].items() if old_tiles.get(key, (None, None))[0] != xmin}
    changed = {key for key, (_, digest) in after["tiles"].items() if old_tiles.get(key, (None, None))[1] != digest}
    assert rewritten == changed
    assert new_tiles <= rewritten
    untouched = set(after["tiles"]) - rewritten
    assert untouched, f"every tile was rewritten: {len(rewritten)} of {len(after['tiles'])}\n{out}"

    # Topics: every level of every map counts every point; only topics that gained papers changed.
    assert all(total == count for _, count, _, total in sizes)
    assert untopiced == 0
    grew = {key for key, size in after["topics"].items() if size != before["topics"][key]}
    assert 0 < len(grew) < len(after["topics"])
    assert sum(after["sizes"].values()) - sum(before["sizes"].values()) >= NEW_PAPERS
