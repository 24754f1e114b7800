"""Maps in Postgres on the real 10k sample: `atlas build` output, tiles, the viewport query, placement."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors

from app.core.connections import connect
from app.core.settings import Settings
from etl.maps.build import map_quadtree
from etl.maps.projection import place_from_neighbors
from etl.maps.tiles import decode_tile
from etl.vectors import read_embeddings


def rows(settings: Settings, query: str, params: tuple = ()) -> list[tuple]:
    with connect(settings) as conn:
        return conn.execute(query, params).fetchall()


def map_arrays(settings: Settings, name: str) -> dict[str, np.ndarray]:
    data = rows(settings, "select mp.paper_id, mp.x, mp.y, mp.level, p.archive from map_points mp "
                          "join maps m on m.id = mp.map_id join papers p on p.id = mp.paper_id "
                          "where m.name = %s order by mp.paper_id", (name,))
    return {
        "id": np.array([r[0] for r in data]), "x": np.array([r[1] for r in data]),
        "y": np.array([r[2] for r in data]), "level": np.array([r[3] for r in data]),
        "archive": np.array([r[4] for r in data]),
    }


def test_build_makes_a_map_of_all_papers_and_one_per_large_archive(mapped_10k: Settings) -> None:
    maps = {r[0]: r[1:] for r in rows(mapped_10k, "select name, title, filter, paper_count, projection, built_at, "
                                                   "extent from maps")}
    assert set(maps) == {"all", "math", "cs"}  # physics (1,790) is under map_min_papers = 2000
    counts = dict(rows(mapped_10k, "select archive, count(*) from papers where embedding is not null group by 1"))
    assert maps["all"][2] == sum(counts.values()) == 9992
    assert maps["math"][2] == counts["math"] and maps["cs"][2] == counts["cs"]
    assert maps["cs"][0] == "Computer Science" and maps["cs"][1] == ["cs"] and maps["all"][1] == []
    projection = maps["all"][3]
    assert projection["method"] == "umap" and projection["metric"] == "cosine"
    assert projection["seed"] == 42 and projection["n_neighbors"] == 15 and projection["min_dist"] == 0.1
    # the narrow table holds exactly each map's papers
    on_cs = rows(mapped_10k, "select count(*), count(*) filter (where p.archive <> 'cs') from map_points mp "
                             "join papers p on p.id = mp.paper_id join maps m on m.id = mp.map_id "
                             "where m.name = 'cs'")[0]
    assert on_cs == (counts["cs"], 0)


def test_every_zoom_shows_at_most_tile_points_per_tile(mapped_10k: Settings) -> None:
    budget, max_level = rows(mapped_10k, "select tile_points, max_level from maps where name = 'all'")[0]
    assert budget == 2048 and max_level >= 2
    for zoom in range(max_level + 2):
        worst = rows(mapped_10k, """
            select coalesce(max(n), 0) from (
              select count(*) n from map_points mp join maps m on m.id = mp.map_id
               where m.name = 'all' and mp.level <= %(z)s
               group by map_tile_index(mp.x, m.origin_x, m.extent, %(z)s),
                        map_tile_index(mp.y, m.origin_y, m.extent, %(z)s)) t""", {"z": zoom})[0][0]
        assert 0 < worst <= budget


def test_tiles_hold_every_point_once_and_decode_to_its_coordinates(mapped_10k: Settings) -> None:
    points = map_arrays(mapped_10k, "all")
    by_id = {int(i): k for k, i in enumerate(points["id"])}
    with connect(mapped_10k) as conn:
        map_id = conn.execute("select id from maps where name = 'all'").fetchone()[0]
        quadtree = map_quadtree(conn, map_id)
        tiles = conn.execute("select z, x, y, points, data from map_tiles where map_id = %s", (map_id,)).fetchall()
        via_function = conn.execute("select map_tile('all', %s, %s, %s)", tiles[0][:3]).fetchone()[0]
    assert bytes(via_function) == bytes(tiles[0][4])
    seen = []
    for z, x, y, count, data in tiles:
        decoded = decode_tile(quadtree, z, x, y, bytes(data))
        assert len(decoded) == count and len(data) == 13 * count
        index = np.array([by_id[int(p)] for p in decoded["paper"]])
        assert (points["level"][index] == z).all()
        tolerance = quadtree.extent / (1 << z) / 65536 * 1.01
        assert np.abs(decoded["x"] - points["x"][index]).max() <= tolerance
        assert np.abs(decoded["y"] - points["y"][index]).max() <= tolerance
        assert (decoded["month"] > 0).all() and (decoded["category"] > 0).all()
        seen.extend(decoded["paper"].tolist())
    assert sorted(seen) == sorted(points["id"].tolist())


def test_map_tile_refuses_unknown_maps_and_tiles_outside_the_grid(mapped_10k: Settings) -> None:
    with connect(mapped_10k) as conn:
        with pytest.raises(psycopg.errors.NoDataFound, match="no map named nowhere"):
            conn.execute("select map_tile('nowhere', 0, 0, 0)")
        conn.rollback()
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="outside the quadtree"):
            conn.execute("select map_tile('all', 1, 2, 0)")
        conn.rollback()
        empty = conn.execute("select map_tile('all', 20, 0, 0)").fetchone()[0]
        assert bytes(empty) == b""


def test_papers_in_view_is_the_box_at_that_zoom(mapped_10k: Settings) -> None:
    points = map_arrays(mapped_10k, "all")
    x0, x1 = np.percentile(points["x"], [30, 60])
    y0, y1 = np.percentile(points["y"], [30, 70])
    inside = (points["x"] >= x0) & (points["x"] <= x1) & (points["y"] >= y0) & (points["y"] <= y1)
    for zoom in (0, 1, 5):
        got = rows(mapped_10k, "select paper_id, level from papers_in_view('all', %s, %s, %s, %s, %s, 100000)",
                   (x0, y0, x1, y1, zoom))
        expected = set(points["id"][inside & (points["level"] <= zoom)].tolist())
        assert {r[0] for r in got} == expected and expected
        assert [r[1] for r in got] == sorted(r[1] for r in got)  # coarse levels first
    limited = rows(mapped_10k, "select count(*) from papers_in_view('all', %s, %s, %s, %s, 5, 50)",
                   (x0, y0, x1, y1))[0][0]
    assert limited == 50
    math_only = rows(mapped_10k, "select distinct p.archive from papers_in_view('all', %s, %s, %s, %s, 5, 100000, "
                                 "'math') v join papers p on p.id = v.paper_id", (x0, y0, x1, y1))
    assert math_only == [("math",)]
    dated = rows(mapped_10k, "select min(published), max(published) from papers_in_view('all', -1e9, -1e9, 1e9, "
                             "1e9, 9, 100000, null, '2015-01-01', '2015-12-31')")[0]
    assert dated[0].year == 2015 and dated[1].year == 2015


def test_viewport_filters_read_facts_on_map_points_that_follow_papers(mapped_10k: Settings) -> None:
    with connect(mapped_10k) as conn:  # one transaction, rolled back: the fixture stays as it was
        out_of_step = ("select count(*) from map_points mp join maps m on m.id = mp.map_id "
                       "join papers p on p.id = mp.paper_id where (mp.category, mp.published) is distinct from "
                       "(coalesce(array_position(m.categories, p.main_category), 0), p.published)")
        assert conn.execute(out_of_step).fetchone()[0] == 0  # the build wrote them
        paper_id, arxiv_id = conn.execute(
            "select p.id, p.arxiv_id from papers p join map_points mp on mp.paper_id = p.id "
            "join maps m on m.id = mp.map_id where m.name = 'all' and p.archive = 'math' order by p.id limit 1"
        ).fetchone()
        conn.execute("update maps set points_changed_at = null")
        conn.execute("update papers set main_category = 'cs.CL', published = '1999-06-15' where id = %s", (paper_id,))
        assert conn.execute(out_of_step).fetchone()[0] == 0  # the trigger copied the change
        marked = conn.execute("select name from maps where points_changed_at is not null order by name").fetchall()
        assert marked == [("all",), ("math",)]  # their tiles carry the old facts: `atlas build` rewrites them
        everywhere = (-1e9, -1e9, 1e9, 1e9)
        in_cs = conn.execute("select arxiv_id from papers_in_view('all', %s, %s, %s, %s, 30, 200000, 'cs', "
                             "'1999-06-01', '1999-06-30')", everywhere).fetchall()
        assert (arxiv_id,) in in_cs
        in_math = conn.execute("select paper_id from map_points_in_view('all', %s, %s, %s, %s, 30, 200000, 'math')",
                               everywhere).fetchall()
        assert (paper_id,) not in in_math
        # the same rows as a filter over papers itself, in the same order
        expected = conn.execute(
            "select mp.paper_id from map_points mp join maps m on m.id = mp.map_id join papers p on p.id = mp.paper_id "
            "where m.name = 'all' and p.archive = 'cs' and p.published >= '2010-01-01' and p.published < '2013-01-01' "
            "order by mp.level, mp.paper_id").fetchall()
        got = conn.execute("select paper_id from map_points_in_view('all', %s, %s, %s, %s, 30, 200000, 'cs', "
                           "'2010-01-01', '2012-12-31')", everywhere).fetchall()
        assert got == expected and len(got) > 100
        conn.rollback()


@pytest.mark.parametrize("call, message", [
    ("papers_in_view('all', 1, 1, 0, 0, 0)", "min_x <= max_x"),
    ("papers_in_view('all', 0, 0, 1, 1, -1)", "zoom must be between"),
    ("papers_in_view('all', 0, 0, 1, 1, 0, 0)", "max_points must be between"),
    ("papers_in_view('all', 'NaN', 0, 1, 1, 0)", "min_x <= max_x"),
    ("papers_in_view('atlantis', 0, 0, 1, 1, 0)", "no map named atlantis"),
])
def test_papers_in_view_refuses_bad_parameters_with_a_reason(mapped_10k: Settings, call: str, message: str) -> None:
    with pytest.raises(psycopg.Error, match=message):
        rows(mapped_10k, f"select * from {call}")


def test_placing_a_papers_own_vector_lands_near_its_own_point(mapped_10k: Settings) -> None:
    with connect(mapped_10k) as conn:
        extent = conn.execute("select extent from maps where name = 'cs'").fetchone()[0]
        sample = conn.execute(
            "select mp.paper_id, mp.x, mp.y, pl.x, pl.y from map_points mp join maps m on m.id = mp.map_id "
            "join papers p on p.id = mp.paper_id cross join lateral place_on_map('cs', p.embedding) pl "
            "where m.name = 'cs' order by mp.paper_id limit 300"
        ).fetchall()
        near = conn.execute(
            "select n.x, n.y, n.similarity from papers p cross join lateral nearest_on_map('cs', p.embedding, 10) n "
            "where p.id = %s", (sample[0][0],)
        ).fetchall()
        in_sql = conn.execute("select x, y from place_on_map('cs', (select embedding from papers where id = %s))",
                              (sample[0][0],)).fetchone()
    errors = np.array([np.hypot(r[1] - r[3], r[2] - r[4]) for r in sample]) / extent
    assert np.median(errors) < 0.03, f"median placement error {np.median(errors):.3f} of the map's extent"
    in_python = place_from_neighbors(np.array([[(n[0], n[1]) for n in near]]), np.array([[n[2] for n in near]]))[0]
    assert in_python == pytest.approx(in_sql, abs=1e-4)  # one rule, two engines


def test_nearest_on_map_returns_k_papers_of_that_map_even_for_foreign_queries(mapped_10k: Settings) -> None:
    found = rows(mapped_10k, """
        select q.arxiv_id, count(n.*), bool_and(p.archive = 'math'), min(n.similarity)
          from (select * from papers where archive = 'cs' order by id limit 20) q
          cross join lateral nearest_on_map('math', q.embedding, 10) n
          join papers p on p.id = n.paper_id
         group by q.arxiv_id""")
    assert len(found) == 20 and all(r[1] == 10 and r[2] for r in found)


def test_map_quality_trustworthiness_and_archive_neighbourhoods(mapped_10k: Settings) -> None:
    points = map_arrays(mapped_10k, "all")
    with connect(mapped_10k) as conn:
        ids, vectors = read_embeddings(conn)
    assert (ids == points["id"]).all()
    rng = np.random.default_rng(0)
    pick = rng.choice(len(ids), 2000, replace=False)
    coords = np.stack([points["x"], points["y"]], axis=1)
    score = trustworthiness(vectors[pick], coords[pick], n_neighbors=10, metric="cosine")
    assert score >= 0.9, f"trustworthiness@10 {score:.3f}"
    _, near = NearestNeighbors(n_neighbors=11).fit(coords).kneighbors(coords[pick])
    same = (points["archive"][near[:, 1:]] == points["archive"][pick][:, None]).mean()
    assert same >= 0.6, f"share of 2-D neighbours with the same archive {same:.2f}"


def test_a_second_build_finds_everything_up_to_date(mapped_10k: Settings) -> None:
    from etl.build import build_all

    lines: list[str] = []
    build_all(mapped_10k, echo=lines.append)
    assert [line.split()[1:3] for line in lines] == [["up", "to"]] * 6, lines
