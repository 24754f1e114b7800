"""A map that explains itself: growth views, local trustworthiness, honest neighbours, a query's footprint.

Against the real 10k sample after `atlas build` (mapped_10k); the analysts' views run as atlas_reader.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from litestar.testing import TestClient
from sklearn.manifold import trustworthiness

from app.api import create_app
from app.api.maps import POINT
from app.core.connections import connect
from app.core.roles import ensure_sql_runner_role
from app.core.settings import Settings
from app.core.tile_format import trust_of_codes
from app.services.explain import CLOSE_IN_EMBEDDING, CLOSE_ON_MAP, distortion
from app.services.footprint import decode_grid
from etl.maps.build import map_quadtree
from etl.maps.growth import month_density
from etl.maps.levels import Quadtree
from etl.maps.tiles import TILE_FORMAT, decode_tile, month_codes
from etl.maps.trust import local_trust
from tests.test_analytics import reader_connect, set_up_reader
from tests.test_sql_layer_api import SQL_PASSWORD, counts


@pytest.fixture(scope="module")
def reader(mapped_10k: Settings) -> Iterator[psycopg.Connection]:
    settings = set_up_reader(mapped_10k)
    with reader_connect(settings, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def client(mapped_10k: Settings) -> Iterator[TestClient]:
    with TestClient(app=create_app(mapped_10k)) as test_client:
        yield test_client


def admin_rows(settings: Settings, query: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(query, params).fetchall()


# ---- growth --------------------------------------------------------------------------------------


def test_growth_window_ends_at_the_corpus_latest_month(reader: psycopg.Connection) -> None:
    latest, recent_from, recent_to, baseline_from, baseline_to = reader.execute(
        "select latest_month, recent_from, recent_to, baseline_from, baseline_to from analytics.growth_window"
    ).fetchone()
    (expected,) = reader.execute(
        "select date_trunc('month', max(published_month))::date from analytics.papers").fetchone()
    assert latest == expected == recent_to and latest.year == 2019  # the sample ends in 2019, not today
    assert (recent_to.year * 12 + recent_to.month) - (recent_from.year * 12 + recent_from.month) == 11
    assert (baseline_to.year * 12 + baseline_to.month) - (baseline_from.year * 12 + baseline_from.month) == 35
    assert (recent_from.year * 12 + recent_from.month) - (baseline_to.year * 12 + baseline_to.month) == 1


def test_monthly_counts_per_topic_and_cell_add_up_to_the_map(reader: psycopg.Connection) -> None:
    (dated,) = reader.execute(
        "select count(*) from analytics.map_points where map = 'all' and published is not null").fetchone()
    per_level = reader.execute(
        "select level, sum(papers) from analytics.map_topic_monthly_counts where map = 'all' group by level"
    ).fetchall()
    assert len(per_level) >= 2 and all(total == dated for _, total in per_level)
    cells = reader.execute(
        "select sum(papers), min(cell_x), max(cell_x), count(distinct month) "
        "from analytics.map_cell_monthly_counts where map = 'all'").fetchone()
    assert cells[0] == dated and 0 <= cells[1] <= cells[2] <= 31 and cells[3] > 100


def test_topic_growth_counts_and_z_scores(reader: psycopg.Connection) -> None:
    rows = reader.execute(
        """
        select g.level, g.topic, g.recent_papers, g.baseline_papers, g.rate_ratio, g.growth_z,
               (select count(*) from analytics.map_points p, analytics.growth_window w
                 where p.map = 'all' and p.topic_ids[g.level + 1] = g.topic
                   and (p.published at time zone 'UTC')::date >= w.recent_from) as direct_recent
          from analytics.map_topic_growth g
         where g.map = 'all' and g.level = 0
        """
    ).fetchall()
    assert rows
    for level, topic, recent, baseline, ratio, z, direct_recent in rows:
        assert recent == direct_recent, (level, topic)
        n = recent + baseline
        if baseline:
            assert float(ratio) == pytest.approx((recent / 12) / (baseline / 36), abs=1e-3)
        if n:
            assert float(z) == pytest.approx((recent - n / 4) / np.sqrt(n * 3 / 16), abs=0.01)


def test_fastest_growing_topics_rank_by_relative_z_with_recent_top_papers(reader: psycopg.Connection) -> None:
    rows = reader.execute(
        "select level, rank, topic, relative_z, recent_papers + baseline_papers, top_papers "
        "from analytics.fastest_growing_topics where map = 'all' order by level, rank"
    ).fetchall()
    assert rows
    (recent_from,) = reader.execute("select recent_from from analytics.growth_window").fetchone()
    by_level: dict[int, list] = {}
    for level, rank, topic, z, n, top in rows:
        by_level.setdefault(level, []).append(float(z))
        assert n >= 20 and rank <= 10
        for paper in top or []:
            assert paper["published"][:10] >= recent_from.isoformat()
            (on_topic,) = reader.execute(
                "select topic_ids[%s] = %s from analytics.map_points where map = 'all' and arxiv_id = %s",
                (level + 1, topic, paper["arxiv_id"])).fetchone()
            assert on_topic
    for zs in by_level.values():
        assert zs == sorted(zs, reverse=True)


def test_month_density_counts_every_point_by_tile_and_month() -> None:
    quad = Quadtree(0.0, 0.0, 16.0)
    x = np.array([0.5, 0.6, 15.5, 15.5, 3.0])
    y = np.array([0.5, 0.5, 15.5, 15.5, 3.0])
    months = np.array([600.0, 601.0, 600.0, 600.0, np.nan])  # the last one has no date: left out
    first, span, tiles, blob = month_density(quad, x, y, months, level=4)
    assert (first, span, tiles) == (601, 2, 2)  # tile-format month codes: months + 1
    record = np.dtype([("tx", "<u2"), ("ty", "<u2"), ("counts", "<u2", (span,))])
    out = np.frombuffer(blob, dtype=record)
    assert out["tx"].tolist() == [0, 15] and out["ty"].tolist() == [0, 15]
    assert out["counts"].tolist() == [[1, 1], [2, 0]]
    assert month_codes(np.array([600.0]))[0] == 601


def test_growth_endpoint_serves_the_density_of_every_point(client: TestClient, mapped_10k: Settings) -> None:
    response = client.get("/api/maps/all/growth")
    assert response.status_code == 200 and response.headers["content-type"] == "application/octet-stream"
    level, first, months, tiles = np.frombuffer(response.content[:16], dtype="<i4").tolist()
    record = np.dtype([("tx", "<u2"), ("ty", "<u2"), ("counts", "<u2", (months,))])
    out = np.frombuffer(response.content[16:], dtype=record)
    assert level == 4 and len(out) == tiles
    ((dated, first_code),) = admin_rows(
        mapped_10k, "select count(*), min((extract(year from published at time zone 'UTC') - 1970) * 12 "
                    "+ extract(month from published at time zone 'UTC'))::int from map_points mp "
                    "join maps m on m.id = mp.map_id where m.name = 'all' and published is not null")
    assert int(out["counts"].sum()) == dated and first == first_code
    again = client.get("/api/maps/all/growth", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


# ---- local trustworthiness -----------------------------------------------------------------------


def test_local_trust_is_one_for_a_faithful_map_and_low_for_a_shuffled_one() -> None:
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(2000, 2))
    vectors = np.c_[coords, np.ones(2000) * 10]  # cosine on these ~ distance in the plane
    faithful = local_trust(vectors, coords)
    shuffled = local_trust(vectors, coords[rng.permutation(2000)])
    assert faithful.mean() > 0.8 and shuffled.mean() < 0.05
    assert faithful.dtype == np.float32 and ((faithful >= 0) & (faithful <= 1)).all()


def test_build_stores_trust_per_point_and_it_agrees_with_trustworthiness(mapped_10k: Settings) -> None:
    with connect(mapped_10k) as conn:  # halfvec as pgvector's HalfVector
        rows = conn.execute("select mp.trust, mp.x, mp.y, p.embedding from map_points mp "
                            "join maps m on m.id = mp.map_id join papers p on p.id = mp.paper_id "
                            "where m.name = 'math' and not mp.placed order by mp.paper_id").fetchall()
    trust = np.array([r[0] for r in rows], dtype=float)
    assert not np.isnan(trust).any() and ((trust >= 0) & (trust <= 1)).all()
    assert set(np.round(trust * 10) / 10) == set(trust.round(3))  # multiples of 1/10
    vectors = np.array([r[3].to_numpy() for r in rows], dtype=np.float32)
    coords = np.array([(r[1], r[2]) for r in rows])
    assert np.allclose(local_trust(vectors, coords), trust, atol=1e-6)
    # the map-wide figure moves with the per-point one
    assert trust.mean() > 0.1 and trustworthiness(vectors, coords, n_neighbors=10, metric="cosine") > 0.85


def test_topic_trust_view_as_reader(reader: psycopg.Connection) -> None:
    rows = reader.execute(
        "select level, topic, size, papers_with_trust, mean_trust, low_trust_share from analytics.map_topic_trust "
        "where map = 'all' and level = 0").fetchall()
    assert rows and all(0 <= float(mean) <= 1 and 0 <= float(low) <= 1 for *_, mean, low in rows)
    assert sum(r[3] for r in rows) == reader.execute(
        "select count(trust) from analytics.map_point_trust where map = 'all'").fetchone()[0]


def test_trust_endpoint_agrees_with_the_analysts_view(client: TestClient, reader: psycopg.Connection) -> None:
    body = client.get("/api/maps/all/trust", params={"level": 0}).json()
    view = {(r[0], r[1]): r[2:] for r in reader.execute(
        "select level, topic, papers_with_trust, mean_trust, low_trust_share from analytics.map_topic_trust "
        "where map = 'all' and level = 0")}
    assert len(body["topics"]) == len(view) >= 3
    for topic in body["topics"]:
        papers, mean, low = view[(topic["level"], topic["topic"])]
        assert topic["papers_with_trust"] == papers
        assert topic["mean_trust"] == pytest.approx(float(mean), abs=5e-4)
        assert topic["low_trust_share"] == pytest.approx(float(low), abs=5e-4)
    means = [t["mean_trust"] for t in body["topics"]]
    assert means == sorted(means)  # least trustworthy first
    (whole,) = reader.execute("select avg(trust), count(trust) from analytics.map_point_trust where map = 'all'")
    assert body["mean_trust"] == pytest.approx(float(whole[0]), abs=1e-6) and body["papers_with_trust"] == whole[1]
    every_level = client.get("/api/maps/all/trust").json()
    assert {t["level"] for t in every_level["topics"]} == {0, 1, 2} and every_level["level"] is None
    assert client.get("/api/maps/atlantis/trust").status_code == 404


def stored_trust(settings: Settings, name: str) -> dict[int, float]:
    return {key: (np.nan if trust is None else trust) for key, trust in admin_rows(
        settings, "select mp.paper_id, mp.trust from map_points mp join maps m on m.id = mp.map_id where m.name = %s",
        (name,))}


def test_every_tile_record_carries_its_points_trust(mapped_10k: Settings) -> None:
    trust = stored_trust(mapped_10k, "all")
    with connect(mapped_10k) as conn:
        map_id, tile_format = conn.execute("select id, tile_format from maps where name = 'all'").fetchone()
        quadtree = map_quadtree(conn, map_id)
        tiles = conn.execute("select z, x, y, points, data from map_tiles where map_id = %s", (map_id,)).fetchall()
    assert tile_format == TILE_FORMAT == 2
    decoded = np.concatenate([decode_tile(quadtree, z, x, y, bytes(data)) for z, x, y, _, data in tiles])
    assert sum(t[3] for t in tiles) == len(decoded) == len(trust) and sum(len(t[4]) for t in tiles) == 13 * len(trust)
    expected = np.array([trust[int(k)] for k in decoded["paper"]])
    assert not np.isnan(expected).all() and len(set(expected.round(1))) >= 5  # real, varied trust values
    assert np.array_equal(np.isnan(decoded["trust"]), np.isnan(expected))
    known = ~np.isnan(expected)
    assert np.abs(decoded["trust"][known] - expected[known]).max() < 1e-6  # tenths are exact in the byte


def test_the_map_list_and_viewport_points_carry_the_tile_format_and_trust(
    client: TestClient, mapped_10k: Settings,
) -> None:
    listed = {m["name"]: m for m in client.get("/api/maps").json()}
    assert listed["all"]["tile_format"] == 2 and listed["all"]["tile_record"] == 13
    tile = client.get("/api/maps/all/tiles/0/0/0")
    assert tile.headers["x-tile-format"] == "2" and int(tile.headers["x-point-count"]) * 13 == len(tile.content)
    x0, y0, x1, y1 = listed["all"]["bounds"]
    box = f"{x0 - 1},{y0 - 1},{x1 + 1},{y1 + 1}"  # the bounds are float4: a margin keeps the edge points
    points = np.frombuffer(client.get(f"/api/maps/all/points?bbox={box}&zoom=9&limit=100000").content,
                           dtype=POINT)
    trust = stored_trust(mapped_10k, "all")
    assert POINT.itemsize == 17 and len(points) == len(trust)
    assert np.allclose(trust_of_codes(points["trust"]), [trust[int(k)] for k in points["paper"]], atol=1e-6,
                       equal_nan=True)


# ---- honest neighbours ---------------------------------------------------------------------------


def test_distortion_rule() -> None:
    assert distortion(60, 3, 10) == CLOSE_ON_MAP
    assert distortion(2, 51, 10) == CLOSE_IN_EMBEDDING
    assert distortion(2, 50, 10) is None and distortion(11, 11, 10) is None


def test_explain_returns_three_lists_with_cross_ranks_and_flags(client: TestClient, mapped_10k: Settings) -> None:
    # a paper of low local trust: its map neighbours are mostly not its embedding neighbours
    (arxiv_id,) = admin_rows(mapped_10k, "select p.arxiv_id from map_points mp join maps m on m.id = mp.map_id "
                                         "join papers p on p.id = mp.paper_id where m.name = 'all' "
                                         "order by mp.trust, p.id limit 1")[0]
    body = client.get(f"/api/papers/{arxiv_id}/explain", params={"map": "all"}).json()
    assert body["paper"]["arxiv_id"] == arxiv_id and body["k"] == 10
    embedding, on_map, reranked = body["embedding"], body["map_neighbors"], body["reranked"]
    assert len(embedding) == len(on_map) == 10 and reranked is not None and len(reranked) == 10
    assert [r["embedding_rank"] for r in embedding] == sorted(r["embedding_rank"] for r in embedding)
    sims = [r["similarity"] for r in embedding]
    assert sims == sorted(sims, reverse=True)
    assert [r["distance"] for r in on_map] == sorted(r["distance"] for r in on_map)
    # same set as the exact SQL k-NN over the map's papers
    exact = [row[0] for row in admin_rows(
        mapped_10k,
        "select q.arxiv_id from papers p, papers q join map_points mp on mp.paper_id = q.id "
        "join maps m on m.id = mp.map_id where m.name = 'all' and p.arxiv_id = %s and q.id <> p.id "
        "order by p.embedding <=> q.embedding limit 10", (arxiv_id,))]
    assert [r["arxiv_id"] for r in embedding] == exact
    assert {r["arxiv_id"] for r in reranked} == set(exact)
    assert all(r["rerank_rank"] is not None for r in embedding)
    scores = [r["rerank_score"] for r in reranked]
    assert scores == sorted(scores, reverse=True)
    for row in embedding + on_map:
        assert row["distortion"] == distortion(row["embedding_rank"], row["map_rank"], 10)
        assert row["distorted"] == (row["distortion"] is not None)
    assert any(r["map_rank"] > 10 for r in embedding)  # a low-trust paper: the lists differ
    assert body["flagged"] == sum(r["distorted"] for r in embedding + on_map) and "beyond 50" in body["distortion_rule"]


def test_explain_says_when_the_reranker_cannot_load(mapped_10k: Settings) -> None:
    broken = dataclasses.replace(mapped_10k, rerank_model="/nonexistent/cross-encoder")
    (arxiv_id,) = admin_rows(mapped_10k, "select arxiv_id from papers order by id limit 1")[0]
    with TestClient(app=create_app(broken)) as client:
        body = client.get(f"/api/papers/{arxiv_id}/explain", params={"map": "all"}).json()
    assert body["reranked"] is None and "could not be loaded" in body["reranker_error"]
    assert len(body["embedding"]) == 10


@pytest.mark.parametrize("url, status, reason", [
    ("/api/papers/1501.00001/explain", 400, "map"),
    ("/api/papers/9999.99999/explain?map=all", 404, "no paper"),
    ("/api/papers/{cs}/explain?map=math", 404, "not on map"),
    ("/api/papers/{cs}/explain?map=nowhere", 404, "no map named"),
])
def test_explain_errors_name_the_input(client: TestClient, mapped_10k: Settings, url: str, status: int,
                                       reason: str) -> None:
    (cs_paper,) = admin_rows(mapped_10k, "select arxiv_id from papers where archive = 'cs' order by id limit 1")[0]
    response = client.get(url.format(cs=cs_paper))
    assert response.status_code == status, response.text
    assert reason in response.text


# ---- footprint -----------------------------------------------------------------------------------


def test_footprint_covers_every_paper_and_its_hottest_cell_holds_the_best_hit(
    client: TestClient, mapped_10k: Settings,
) -> None:
    body = client.get("/api/maps/all/footprint", params={"q": "graph neural networks", "z": 4}).json()
    grid = decode_grid(body["grid"])
    assert body["record_bytes"] == grid.itemsize == 28 and len(grid) == body["cells"]
    assert int(grid["papers"].sum()) == body["papers"] == 9992  # every paper, not a top k
    assert (grid["best"] >= grid["mean"] - 1e-6).all() and np.isnan(grid["best_b"]).all()
    hottest = grid[np.argmax(grid["best"])]
    best = body["best"]
    assert (int(hottest["cell_x"]), int(hottest["cell_y"]), int(hottest["best_paper"])) == (
        best["cell_x"], best["cell_y"], best["paper"])
    # the best hit of an exact semantic search is the hottest cell's paper, and it lies in that cell
    top = client.get("/api/search", params={"q": "graph neural networks", "mode": "semantic", "top_k": 50,
                                             "top_n": 1, "map": "all"}).json()["hits"][0]
    assert top["key"] == best["paper"]
    ((x, y, origin_x, origin_y, extent),) = admin_rows(
        mapped_10k, "select mp.x, mp.y, m.origin_x, m.origin_y, m.extent from map_points mp "
                    "join maps m on m.id = mp.map_id where m.name = 'all' and mp.paper_id = %s", (best["paper"],))
    assert int((x - origin_x) / extent * 16) == best["cell_x"] and int((y - origin_y) / extent * 16) == best["cell_y"]
    topics = body["topics"]
    assert topics and [t["share"] for t in topics] == sorted((t["share"] for t in topics), reverse=True)
    assert all(0 < t["above"] <= t["papers"] for t in topics)


def test_the_footprint_grid_and_topics_equal_numpy_over_every_paper(client: TestClient, mapped_10k: Settings) -> None:
    """One scan gives both halves (map_footprint_summary): each cell's papers, best, mean, best paper and the
    second query's best and mean, and each topic's papers, share above the threshold and best, equal numpy's
    over every paper of the map."""
    rows = admin_rows(mapped_10k, """
        select mp.paper_id, mp.x, mp.y, mp.topics[1], p.embedding::real[], m.origin_x, m.origin_y, m.extent
          from map_points mp join maps m on m.id = mp.map_id join papers p on p.id = mp.paper_id
         where m.name = 'all' and p.embedding is not null""")
    keys = np.array([r[0] for r in rows])
    xy = np.array([(r[1], r[2]) for r in rows], dtype=np.float64)
    topic = np.array([-1 if r[3] is None else r[3] for r in rows])
    vectors = np.array([r[4] for r in rows], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    origin_x, origin_y, extent = rows[0][5:]
    (first, second) = admin_rows(mapped_10k, "select arxiv_id, id from papers where archive in ('math', 'hep-th') "
                                             "and embedding is not null order by id limit 2")
    q, q2 = (vectors[np.flatnonzero(keys == key)[0]] for key in (first[1], second[1]))
    sim, sim_b = vectors @ q, vectors @ q2
    z, threshold = 3, 0.5
    cx = np.clip(np.floor((xy[:, 0] - origin_x) / extent * 2**z), 0, 2**z - 1).astype(int)
    cy = np.clip(np.floor((xy[:, 1] - origin_y) / extent * 2**z), 0, 2**z - 1).astype(int)
    body = client.get("/api/maps/all/footprint", params={"paper": first[0], "paper2": second[0], "z": z,
                                                         "threshold": threshold}).json()
    grid = decode_grid(body["grid"])
    assert len(grid) == len(set(zip(cx, cy, strict=True)))
    for cell in grid:
        inside = (cx == cell["cell_x"]) & (cy == cell["cell_y"])
        assert cell["papers"] == inside.sum()
        assert cell["best"] == pytest.approx(sim[inside].max(), abs=1e-3)
        assert cell["mean"] == pytest.approx(sim[inside].mean(), abs=1e-3)
        assert cell["best_b"] == pytest.approx(sim_b[inside].max(), abs=1e-3)
        assert cell["mean_b"] == pytest.approx(sim_b[inside].mean(), abs=1e-3)
        assert sim[keys == cell["best_paper"]][0] == pytest.approx(sim[inside].max(), abs=1e-3)
    shares = {}
    for t in set(topic[sim >= threshold]) - {-1}:
        members = topic == t
        shares[int(t)] = (int(members.sum()), int((sim[members] >= threshold).sum()), sim[members].max())
    expected = sorted(shares, key=lambda t: (-shares[t][1] / shares[t][0], -shares[t][1], t))
    got = body["topics"]
    assert [t["topic"] for t in got] == expected[:len(got)] and len(got) == min(10, len(expected))
    for t in got:
        papers, above, best = shares[t["topic"]]
        assert (t["papers"], t["above"]) == (papers, above)
        assert t["share"] == pytest.approx(above / papers) and t["best"] == pytest.approx(best, abs=1e-3)


def test_footprint_of_a_paper_and_a_comparison(client: TestClient, mapped_10k: Settings) -> None:
    (arxiv_id, key) = admin_rows(mapped_10k, "select arxiv_id, id from papers where archive = 'math' "
                                             "order by id limit 1")[0]
    body = client.get("/api/maps/all/footprint", params={"paper": arxiv_id, "q2": "quantum field theory",
                                                         "z": 3}).json()
    grid = decode_grid(body["grid"])
    assert body["best"]["paper"] == key and body["best"]["similarity"] == pytest.approx(1, abs=1e-3)
    assert not np.isnan(grid["best_b"]).any() and (grid["best_b"] >= grid["mean_b"] - 1e-6).all()
    assert body["compare"] == {"q": "quantum field theory", "paper": None}
    assert body["query"] == {"q": None, "paper": arxiv_id}


@pytest.mark.parametrize("params, status, reason", [
    ({}, 400, "exactly one"),
    ({"q": "x", "paper": "1501.00001"}, 400, "exactly one"),
    ({"paper": "9999.99999"}, 404, "no paper"),
    ({"q": "x", "z": 10}, 400, "z"),
    ({"q": "x", "q2": "y", "paper2": "1501.00001"}, 400, "at most one"),
])
def test_footprint_parameters_are_validated(client: TestClient, params: dict, status: int, reason: str) -> None:
    response = client.get("/api/maps/all/footprint", params=params)
    assert response.status_code == status, response.text
    assert reason in response.text


# ---- footprint of a SQL layer ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sql_client(mapped_10k: Settings) -> Iterator[TestClient]:
    settings = dataclasses.replace(mapped_10k, sql_password=SQL_PASSWORD, sql_enabled="on",
                                   sql_statement_timeout_ms=1500, sql_max_rows=500)
    with psycopg.connect(settings.database_url) as conn:
        ensure_sql_runner_role(conn, settings, SQL_PASSWORD)  # as `atlas db upgrade` does
    with TestClient(app=create_app(settings)) as test_client:
        yield test_client


def test_footprint_of_a_sql_layer_is_that_of_its_papers_centroid(sql_client: TestClient, mapped_10k: Settings) -> None:
    (seed,) = admin_rows(mapped_10k, "select p.arxiv_id from papers p join paper_neighbors n on n.paper_id = p.id "
                                     "where p.archive = 'cs' order by p.id limit 1")[0]
    layer_sql = (f"select neighbor_arxiv_id as arxiv_id, similarity from analytics.paper_neighbors "
                 f"where arxiv_id = '{seed}' union all select '{seed}', 1")
    response = sql_client.post("/api/maps/all/footprint", json={"sql": layer_sql, "z": 4})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"]["sql"] == layer_sql and body["query"]["layer"]["rows"] == 11
    assert body["query"]["layer"]["papers"] == 11
    grid = decode_grid(body["grid"])
    assert int(grid["papers"].sum()) == body["papers"] == 9992  # every paper of the map, as for q=
    # the oracle: the mean of the layer's embeddings, against every paper of the map, in numpy
    rows = admin_rows(mapped_10k, "select p.id, p.arxiv_id, p.embedding::vector::real[], mp.x, mp.y, m.origin_x, "
                                  "m.origin_y, m.extent from map_points mp join maps m on m.id = mp.map_id "
                                  "join papers p on p.id = mp.paper_id where m.name = 'all' order by p.id")
    ids = np.array([r[0] for r in rows])
    vectors = np.array([r[2] for r in rows], dtype=np.float32)
    layer_ids = {r[0] for r in admin_rows(mapped_10k, "select p.id from papers p where p.arxiv_id = %s or p.id in "
                                          "(select n.neighbor_id from paper_neighbors n join papers q on q.id = "
                                          "n.paper_id where q.arxiv_id = %s)", (seed, seed))}
    centroid = vectors[np.isin(ids, list(layer_ids))].mean(axis=0)
    similarity = vectors @ centroid / np.linalg.norm(vectors, axis=1) / np.linalg.norm(centroid)
    assert body["best"]["similarity"] == pytest.approx(float(similarity.max()), abs=2e-3)
    # the hottest cell holds one of the layer's papers
    _, _, _, _, _, origin_x, origin_y, extent = rows[0]
    cells = {(int((r[3] - origin_x) / extent * 16), int((r[4] - origin_y) / extent * 16)) for r in rows
             if r[0] in layer_ids}
    assert (body["best"]["cell_x"], body["best"]["cell_y"]) in cells


@pytest.mark.parametrize("sql, reason", [
    ("delete from analytics.categories", "permission denied"),
    ("drop view analytics.papers", "read-only transaction"),
    ("select arxiv_id from analytics.papers limit 3; drop table papers", "multiple commands"),
    ("select id as paper_id from public.papers limit 3", "permission denied"),
    ("select 1 as n", "no arxiv_id or paper_id"),
    ("select 'not-a-paper' as arxiv_id", "none of the query's 1 rows"),
])
def test_footprint_of_a_hostile_or_empty_sql_layer_is_refused_and_changes_nothing(
    sql_client: TestClient, mapped_10k: Settings, sql: str, reason: str,
) -> None:
    before = counts(mapped_10k)
    response = sql_client.post("/api/maps/all/footprint", json={"sql": sql})
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"], response.text
    assert counts(mapped_10k) == before


def test_footprint_of_a_sql_layer_needs_the_sql_panel(client: TestClient) -> None:
    response = client.post("/api/maps/all/footprint", json={"sql": "select arxiv_id from analytics.papers limit 3"})
    assert response.status_code == 403 and "SQL panel is off" in response.json()["detail"]
