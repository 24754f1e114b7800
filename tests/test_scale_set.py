"""The scale set of bench/make_scale.py: deterministic, real rows first, valid ids that never collide."""

from __future__ import annotations

import numpy as np

from app.core.arxiv_ids import parse_arxiv_id
from bench.make_scale import (
    NUMBERS_PER_MONTH,
    SEED_PAPERS,
    held_out_queries,
    real_vectors,
    synthetic_arxiv_id,
    synthetic_vectors,
)


def test_synthetic_ids_are_valid_unique_and_after_the_real_sample() -> None:
    copies = SEED_PAPERS  # more than any scale set needs
    picks = [0, 1, NUMBERS_PER_MONTH - 1, NUMBERS_PER_MONTH, 11 * NUMBERS_PER_MONTH + 5, copies]
    ids = [synthetic_arxiv_id(c) for c in picks]
    assert ids[:4] == ["2001.00001", "2001.00002", "2001.99999", "2002.00001"]
    assert ids[4] == "2012.00006"  # twelve months of 99,999 ids cover 1.2M copies
    assert all(parse_arxiv_id(i).arxiv_id == i for i in ids)
    assert len(set(ids)) == len(ids) and min(ids) > "1912.99999"  # the real sample ends in 2019-12


def test_vectors_are_the_real_ones_then_copies_drawn_around_them_the_same_way_every_time(shared_data) -> None:
    real = real_vectors()
    vectors, sources = synthetic_vectors(len(real) + 2000, real=real)
    again, _ = synthetic_vectors(len(real) + 2000, real=real)
    assert np.array_equal(vectors, again)
    assert np.array_equal(vectors[: len(real)], real) and np.array_equal(sources[: len(real)], np.arange(len(real)))
    copies = vectors[len(real):]
    assert np.allclose(np.linalg.norm(copies, axis=1), 1, atol=1e-5)
    unit = real / np.linalg.norm(real, axis=1, keepdims=True)
    to_source = (copies * unit[sources[len(real):]]).sum(axis=1)
    assert 0.70 < np.median(to_source) < 0.80  # SIGMA: about the nearest-neighbour similarity of a 1.2M corpus
    queries = held_out_queries(50, real=real)
    assert queries.shape == (50, real.shape[1]) and not np.isin(queries[:, 0], copies[:, 0]).any()


def test_a_smaller_set_is_a_prefix_of_a_larger_one(shared_data) -> None:
    """bench/update.py holds out the last rows of papers + new: its base must be bench/scale.py's set, row for row."""
    real = real_vectors()
    small, small_sources = synthetic_vectors(len(real) + 700, real=real)
    large, large_sources = synthetic_vectors(len(real) + 2700, real=real)
    assert np.array_equal(small, large[: len(small)]) and np.array_equal(small_sources, large_sources[: len(small)])
