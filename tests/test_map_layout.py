"""Level of detail, tile encoding and placement rules: pure functions, checked against their promises."""

from __future__ import annotations

import numpy as np
import pytest

from etl.maps.levels import Quadtree, assign_levels, point_priority
from etl.maps.projection import place_from_neighbors
from etl.maps.tiles import RECORD, decode_tile, encode_tiles, month_codes, trust_codes


def clustered_points(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Very uneven density: a few tight blobs plus a sparse background."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(6, 2))
    which = rng.integers(0, 6, size=n)
    scale = np.where(rng.random(n) < 0.9, 0.05, 4.0)[:, None]
    xy = centres[which] + rng.normal(size=(n, 2)) * scale
    return xy[:, 0].astype(np.float32), xy[:, 1].astype(np.float32)


def test_every_tile_at_every_zoom_shows_at_most_the_budget() -> None:
    x, y = clustered_points(60_000)
    ids = np.arange(1, len(x) + 1)
    quadtree = Quadtree.around(x, y)
    budget = 500
    levels = assign_levels(quadtree, x, y, point_priority(ids), budget)
    assert levels.min() == 0 and (levels >= 0).all()
    assert levels.max() > 4  # dense blobs need deep levels
    for zoom in range(int(levels.max()) + 2):
        shown = levels <= zoom
        tx, ty = quadtree.tiles(x[shown], y[shown], zoom)
        _, counts = np.unique(tx * (1 << zoom) + ty, return_counts=True)
        assert counts.max() <= budget, f"zoom {zoom}: a tile shows {counts.max()} points"
    # and the budget is used: a tile with more than `budget` papers shows exactly `budget` at its zoom
    tx, ty = quadtree.tiles(x, y, 0)
    assert (levels == 0).sum() == budget


def test_a_tile_shows_the_highest_priority_points_of_its_area() -> None:
    x, y = clustered_points(20_000, seed=5)
    ids = np.arange(10, 20_010)
    priority = point_priority(ids, seed=1)
    quadtree = Quadtree.around(x, y)
    levels = assign_levels(quadtree, x, y, priority, 300)
    shown = np.flatnonzero(levels == 0)
    hidden = np.flatnonzero(levels > 0)
    assert priority[shown].max() < priority[hidden].min()  # zoom 0 = the top 300 of the one tile


def test_exact_duplicates_beyond_the_budget_go_to_the_deepest_level() -> None:
    x = np.zeros(50, dtype=np.float32)
    y = np.zeros(50, dtype=np.float32)
    levels = assign_levels(Quadtree(-1.0, -1.0, 2.0), x, y, point_priority(np.arange(50)), 10, max_level=6)
    assert (levels == 0).sum() == 10 and (levels == 6).sum() == 40


def test_priority_is_a_seeded_permutation_independent_of_order() -> None:
    ids = np.arange(1, 1001)
    a, b = point_priority(ids, 1), point_priority(ids[::-1], 1)[::-1]
    assert (a == b).all() and len(np.unique(a)) == 1000
    assert not (point_priority(ids, 2) == a).all()


def test_tiles_round_trip_with_sub_pixel_error_and_hold_each_point_once() -> None:
    x, y = clustered_points(30_000, seed=11)
    ids = np.arange(1, 30_001)
    priority = point_priority(ids)
    quadtree = Quadtree.around(x, y)
    levels = assign_levels(quadtree, x, y, priority, 1000)
    categories = (ids % 7).astype(np.uint16)
    months = month_codes(np.where(ids % 13 == 0, np.nan, ids % 600))
    trust = np.where(ids % 11 == 0, np.nan, (ids % 11) / 10)  # tenths, some unknown
    tiles = list(encode_tiles(quadtree, x, y, levels, priority, ids, categories, months, trust_codes(trust, len(ids))))
    assert RECORD.itemsize == 13
    assert sum(t.points for t in tiles) == len(ids)
    seen = np.zeros(len(ids) + 1, dtype=int)
    for tile in tiles:
        decoded = decode_tile(quadtree, tile.z, tile.x, tile.y, tile.data)
        index = decoded["paper"].astype(np.int64) - 1
        seen[decoded["paper"]] += 1
        assert (levels[index] == tile.z).all()
        step = quadtree.extent / (1 << tile.z) / 65536
        assert np.abs(decoded["x"] - x[index]).max() <= step + 1e-5 * quadtree.extent
        assert np.abs(decoded["y"] - y[index]).max() <= step + 1e-5 * quadtree.extent
        assert (decoded["category"] == categories[index]).all() and (decoded["month"] == months[index]).all()
        assert np.allclose(decoded["trust"], trust[index], atol=1e-6, equal_nan=True)
        assert (np.diff(priority[index].astype(np.float64)) > 0).all()  # a prefix is the tile's top
    assert (seen[1:] == 1).all()
    assert months[12] == 0 and months[0] == 1 + 1  # id 1: month 1 -> code 2; id 13: unknown -> 0


def test_tile_indices_clamp_to_the_grid() -> None:
    quadtree = Quadtree(0.0, 0.0, 8.0)
    tx, ty = quadtree.tiles(np.array([-1.0, 0.0, 3.99, 8.0, 100.0]), np.array([0.0] * 5), 1)
    assert tx.tolist() == [0, 0, 0, 1, 1] and ty.tolist() == [0] * 5


def test_placement_stays_with_the_heavier_cluster_of_neighbours() -> None:
    near = np.array([[[7.3, 9.4], [7.2, 9.3], [7.4, 9.5], [2.3, 7.2], [6.8, 8.1], [2.4, 7.5], [2.3, 7.4],
                      [7.3, 9.2], [7.5, 9.5], [7.4, 9.4]]])
    similarity = np.array([[0.62, 0.60, 0.58, 0.57, 0.55, 0.55, 0.53, 0.53, 0.52, 0.52]])
    placed = place_from_neighbors(near, similarity)[0]
    mean = near[0].mean(axis=0)
    assert np.linalg.norm(placed - [7.3, 9.4]) < 0.3  # in the cluster of seven
    assert np.linalg.norm(mean - [7.3, 9.4]) > 1.0  # where a plain mean would not be


def test_placement_of_one_neighbour_or_identical_ones_is_that_position() -> None:
    assert place_from_neighbors(np.array([[[1.0, 2.0]]]), np.array([[0.9]]))[0] == pytest.approx([1.0, 2.0])
    same = np.repeat(np.array([[[3.0, -1.0]]]), 5, axis=1)
    assert place_from_neighbors(same, np.full((1, 5), 0.7))[0] == pytest.approx([3.0, -1.0])


def test_a_map_bigger_than_the_fit_sample_is_fitted_on_a_sample_and_the_rest_placed(shared_data) -> None:
    from etl.maps.projection import ProjectionParams, project

    vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[:1500].astype(np.float32)
    coords, info = project(vectors, ProjectionParams(fit_sample=500, n_epochs=100))
    assert info["method"] == "umap+neighbors" and info["fitted"] == 500 and info["placed"] == 1000
    # 1,000 x 500 pairs: exact neighbours (EXACT_PLACEMENT_MAX_PAIRS); above it the fitted model's
    # pynndescent index, which compiles its numba code first (bench/map_scale.py runs that branch)
    assert info["placement_neighbors"] == "exact"
    assert coords.shape == (1500, 2) and np.isfinite(coords).all()
    rng = np.random.default_rng(42)
    fitted = np.sort(rng.choice(1500, size=500, replace=False))
    placed = np.setdiff1d(np.arange(1500), fitted)
    # each placed paper sits where the placement rule puts it from its 10 most similar fitted papers
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit[placed] @ unit[fitted].T
    top = np.argsort(-similarity, axis=1)[:, :10]
    expected = place_from_neighbors(coords[fitted][top], np.take_along_axis(similarity, top, axis=1))
    assert np.allclose(coords[placed], expected, atol=1e-4)
    # so it lands beside its nearest fitted paper, not somewhere random
    nearest = fitted[np.argmax(vectors[placed] @ vectors[fitted].T, axis=1)]
    gap = np.linalg.norm(coords[placed] - coords[nearest], axis=1)
    spread = np.linalg.norm(coords[placed] - coords[rng.permutation(placed)], axis=1)
    assert np.median(gap) < 0.25 * np.median(spread)
