"""paper_neighbors (etl/neighbors.py) on the real 10k sample: the shape of the lists, their recall
against an exact numpy search, incremental runs with the reverse update, the embedding trigger,
cascades, interrupted runs and the HNSW plan."""

from __future__ import annotations

import dataclasses
import gzip
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import pytest

from app.core.connections import connect, url_with_database
from app.core.settings import Settings
from etl import neighbors
from etl.load import LoadOptions, load_sources
from etl.neighbors import NEAREST_SQL, NeighborSummary, compute_neighbors, papers_missing_neighbors

K = 10
FIRST_PART = 9000  # lines of the sample loaded before the rest arrives
SMALL = 400  # lines of the sample in the small databases of the trigger, cascade and resume tests

Lists = dict[int, list[int]]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def sample_parts(shared_data: Path) -> tuple[list[str], np.ndarray]:
    """The lines of the 10k sample and their rows of the .npy."""
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = f.readlines()
    vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy")
    assert len(lines) == vectors.shape[0]
    return lines, vectors


def write_part(folder: Path, name: str, lines: list[str], vectors: np.ndarray) -> LoadOptions:
    """Some lines of the sample with their rows of the .npy, as a source that load_sources reads."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{name}.jsonl"
    source.write_text("".join(lines), encoding="utf-8")
    npy = folder / f"{name}.all-MiniLM-L6-v2.f16.npy"
    np.save(npy, np.ascontiguousarray(vectors))
    return LoadOptions(sources=[source], embeddings=npy, progress=False)


def paper_ids(settings: Settings) -> set[int]:
    with connect(settings) as conn:
        return {row[0] for row in conn.execute("select id from papers where embedding is not null")}


def neighbour_lists(settings: Settings) -> Lists:
    """Each paper's neighbours in rank order."""
    lists: Lists = {}
    with connect(settings) as conn:
        for paper_id, neighbor_id in conn.execute(
            "select paper_id, neighbor_id from paper_neighbors order by paper_id, rank"
        ):
            lists.setdefault(paper_id, []).append(neighbor_id)
    return lists


def agreement(candidate: Lists, reference: Lists, papers: set[int]) -> float:
    """Share of the reference's (paper, neighbour) rows that the candidate lists hold too."""
    shared = sum(len(set(candidate.get(p, [])) & set(reference[p])) for p in papers)
    return shared / sum(len(reference[p]) for p in papers)


@pytest.fixture(scope="module")
def module_db(pg_admin_url: str, template_database: str, base_settings: Settings,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Settings]]:
    """Factory of fresh migrated databases that live as long as this module's tests."""
    created: list[str] = []

    def factory() -> Settings:
        name = f"atlas_nb_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'create database "{name}" template "{template_database}"')
        created.append(name)
        folder = tmp_path_factory.mktemp(name)
        return dataclasses.replace(
            base_settings, database_url=url_with_database(pg_admin_url, name), data_dir=folder,
            reject_dir=folder / "rejects",
        )

    yield factory
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'drop database if exists "{name}" with (force)')


# --------------------------------------------------------------------------- the 10k sample, grown in two loads


@dataclass
class Grown:
    settings: Settings
    first: NeighborSummary  # lists of the first 9,000 lines
    old_ids: set[int]
    new_ids: set[int]  # papers of the remaining lines
    missing_before_second: int
    second: NeighborSummary  # lists of the new papers, with the reverse update
    lists_first: Lists  # after the first run
    lists_incremental: Lists  # after the second run
    rebuild: NeighborSummary
    lists_rebuilt: Lists


@pytest.fixture(scope="module")
def grown(module_db, sample_parts, tmp_path_factory: pytest.TempPathFactory) -> Grown:
    lines, vectors = sample_parts
    settings = module_db()
    folder = tmp_path_factory.mktemp("neighbors-parts")
    load_sources(settings, write_part(folder, "part1", lines[:FIRST_PART], vectors[:FIRST_PART]))
    first = compute_neighbors(settings, k=K, workers=2)
    old_ids = paper_ids(settings)
    lists_first = neighbour_lists(settings)

    load_sources(settings, write_part(folder, "part2", lines[FIRST_PART:], vectors[FIRST_PART:]))
    new_ids = paper_ids(settings) - old_ids
    with connect(settings) as conn:
        missing = papers_missing_neighbors(conn, K)
    # Small batches on two workers: several batches merge into older lists concurrently.
    second = compute_neighbors(settings, k=K, workers=2, batch_size=250)
    lists_incremental = neighbour_lists(settings)

    rebuild = compute_neighbors(settings, k=K, workers=2, rebuild=True)
    return Grown(settings, first, old_ids, new_ids, missing, second, lists_first, lists_incremental,
                 rebuild, neighbour_lists(settings))


@dataclass
class Exact:
    position: dict[int, int]  # paper id -> row of unit
    unit: np.ndarray  # unit vectors of the embeddings as stored (halfvec), by paper id
    top: dict[int, set[int]]  # the exact K nearest (itself excluded) of a random sample of papers


@pytest.fixture(scope="module")
def exact(grown: Grown) -> Exact:
    """Brute-force cosine k-NN over the stored embeddings, for a seeded sample of 2,000 papers."""
    with connect(grown.settings) as conn:
        rows = conn.cursor(binary=True).execute(
            "select id, embedding from papers where embedding is not null order by id"
        ).fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    unit = np.stack([r[1].to_numpy() for r in rows]).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    sample = np.random.default_rng(7).choice(len(ids), size=2000, replace=False)
    sims = unit[sample] @ unit.T
    sims[np.arange(len(sample)), sample] = -np.inf
    best = np.argpartition(-sims, K, axis=1)[:, :K]
    top = {int(ids[i]): {int(n) for n in ids[row]} for i, row in zip(sample, best, strict=True)}
    return Exact({int(p): i for i, p in enumerate(ids)}, unit, top)


def test_every_paper_gets_k_ranked_neighbours_that_agree_with_exact_search(grown: Grown, exact: Exact) -> None:
    with connect(grown.settings) as conn:
        rows = np.array(conn.execute(
            "select paper_id, rank, neighbor_id, similarity from paper_neighbors order by paper_id, rank"
        ).fetchall(), dtype=np.float64)
    paper, rank, neighbour, similarity = rows.T
    papers, counts = np.unique(paper, return_counts=True)
    assert set(papers.astype(np.int64).tolist()) == set(exact.position), "every paper with an embedding has a list"
    assert (counts == K).all()
    assert (rank.reshape(-1, K) == np.arange(1, K + 1)).all(), "ranks 1..k"
    assert (np.diff(similarity.reshape(-1, K), axis=1) <= 0).all(), "similarity never rises with rank"
    assert not (paper == neighbour).any(), "no paper is its own neighbour"
    assert all(len(set(row)) == K for row in neighbour.reshape(-1, K)), "no neighbour twice"

    left = exact.unit[[exact.position[int(p)] for p in paper]]
    right = exact.unit[[exact.position[int(n)] for n in neighbour]]
    cosine = (left * right).sum(axis=1)
    assert np.abs(cosine - similarity).max() < 1e-4, "similarity = 1 - cosine distance"

    found = {int(p): set(neighbour.reshape(-1, K)[i].astype(np.int64).tolist())
             for i, p in enumerate(paper.reshape(-1, K)[:, 0])}
    recall = np.mean([len(found[p] & exact.top[p]) / K for p in exact.top])
    print(f"recall@{K} of the HNSW lists against exact search: {recall:.4f}")
    assert recall >= 0.98


def test_a_second_run_skips_what_is_up_to_date_and_rebuild_redoes_everything(grown: Grown) -> None:
    everyone = grown.old_ids | grown.new_ids
    assert (grown.rebuild.papers, grown.rebuild.rows, grown.rebuild.refreshed) == (len(everyone), K * len(everyone), 0)
    assert "papers/s" in grown.rebuild.describe()

    with connect(grown.settings) as conn:
        assert papers_missing_neighbors(conn, K) == 0
    again = compute_neighbors(grown.settings, k=K)
    assert (again.papers, again.rows, again.refreshed) == (0, 0, 0)
    assert neighbour_lists(grown.settings) == grown.lists_rebuilt

    with connect(grown.settings) as conn:  # a larger k makes every list short: all of them are due
        assert papers_missing_neighbors(conn, K + 1) == len(everyone)


def test_new_papers_get_lists_and_older_lists_take_them_in(grown: Grown, exact: Exact) -> None:
    assert grown.first.papers == len(grown.old_ids) and grown.first.refreshed == 0
    assert len(grown.new_ids) > 900
    assert grown.missing_before_second == len(grown.new_ids)
    assert (grown.second.papers, grown.second.rows) == (len(grown.new_ids), K * len(grown.new_ids))
    assert set(grown.lists_incremental) == grown.old_ids | grown.new_ids

    # The reverse update changed exactly the older lists it says it refreshed, each by taking in new papers.
    changed = {p for p in grown.old_ids if grown.lists_incremental[p] != grown.lists_first[p]}
    assert grown.second.refreshed == len(changed) > 0
    for p in changed:
        taken_in = set(grown.lists_incremental[p]) - set(grown.lists_first[p])
        assert taken_in and taken_in <= grown.new_ids

    # The reverse update is an approximation: compare the older papers' lists with a full rebuild.
    without = agreement(grown.lists_first, grown.lists_rebuilt, grown.old_ids)
    refreshed = agreement(grown.lists_incremental, grown.lists_rebuilt, grown.old_ids)
    sampled_old = grown.old_ids & set(exact.top)
    truth = {p: list(exact.top[p]) for p in sampled_old}
    print(
        f"older papers' rows equal to a full rebuild: {refreshed:.4f} with the reverse update, "
        f"{without:.4f} without; recall@{K} against exact search (sample): "
        f"{agreement(grown.lists_incremental, truth, sampled_old):.4f} incremental, "
        f"{agreement(grown.lists_rebuilt, truth, sampled_old):.4f} rebuilt "
        f"({len(changed)} of {len(grown.old_ids)} older lists refreshed)\nfirst run: {grown.first.describe()}"
        f"\nsecond run: {grown.second.describe()}\nrebuild: {grown.rebuild.describe()}"
    )
    assert refreshed >= 0.98
    assert refreshed > without + 0.01


def test_the_batch_statement_uses_the_hnsw_index(grown: Grown) -> None:
    with connect(grown.settings) as conn:
        ids = [row[0] for row in conn.execute("select id from papers order by id limit 2000")]
        plan = "\n".join(row[0] for row in conn.execute("explain " + NEAREST_SQL, {"ids": ids, "width": K}))
    assert "Index Scan using papers_embedding_hnsw on papers q" in plan, plan
    assert "Order By: (embedding <=> p.embedding)" in plan, plan


# --------------------------------------------------------------------------- small databases that tests change


@pytest.fixture
def small(db: Settings, sample_parts, tmp_path: Path) -> Settings:
    """A fresh database holding the first 400 papers of the sample, with their lists."""
    lines, vectors = sample_parts
    load_sources(db, write_part(tmp_path, "small", lines[:SMALL], vectors[:SMALL]))
    summary = compute_neighbors(db, k=K, batch_size=150)
    assert summary.papers == SMALL and summary.rows == K * SMALL
    return db


def test_changing_an_embedding_forgets_its_lists_and_the_next_run_restores_them(small: Settings) -> None:
    with connect(small) as conn:
        x = conn.execute(  # the paper in the most lists, and another one
            "select neighbor_id from paper_neighbors group by neighbor_id order by count(*) desc, neighbor_id limit 1"
        ).fetchone()[0]
        y = conn.execute("select min(id) from papers where id <> %s", [x]).fetchone()[0]
        pointing = {r[0] for r in conn.execute("select paper_id from paper_neighbors where neighbor_id = %s", [x])}
        conn.execute("update papers set embedding = (select embedding from papers where id = %s) where id = %s", [y, x])
        conn.commit()
        assert conn.execute(
            "select count(*) from paper_neighbors where paper_id = %(x)s or neighbor_id = %(x)s", {"x": x}
        ).fetchone()[0] == 0
        for p in pointing:
            assert conn.execute("select count(*) from paper_neighbors where paper_id = %s", [p]).fetchone()[0] == K - 1
        assert len(pointing) > 1 and papers_missing_neighbors(conn, K) == 1 + len(pointing)

    summary = compute_neighbors(small, k=K)
    assert summary.papers == 1 + len(pointing) and summary.refreshed > 0
    lists = neighbour_lists(small)
    assert all(len(lst) == K for lst in lists.values()) and len(lists) == SMALL
    assert lists[x][0] == y and lists[y][0] == x, "papers with the same embedding are each other's nearest"
    with connect(small) as conn:
        assert papers_missing_neighbors(conn, K) == 0
        similarity = conn.execute(
            "select similarity from paper_neighbors where paper_id = %s and rank = 1", [x]
        ).fetchone()[0]
    assert similarity == pytest.approx(1.0, abs=1e-3)


def test_deleting_a_paper_cascades_to_its_rows(small: Settings) -> None:
    with connect(small) as conn:
        x = conn.execute(
            "select neighbor_id from paper_neighbors group by neighbor_id order by count(*) desc, neighbor_id limit 1"
        ).fetchone()[0]
        pointing = conn.execute("select count(*) from paper_neighbors where neighbor_id = %s", [x]).fetchone()[0]
        assert pointing > 0
        conn.execute("delete from papers where id = %s", [x])
        conn.commit()
        assert conn.execute(
            "select count(*) from paper_neighbors where paper_id = %(x)s or neighbor_id = %(x)s", {"x": x}
        ).fetchone()[0] == 0
        assert conn.execute("select count(*) from paper_neighbors").fetchone()[0] == K * SMALL - K - pointing
        assert papers_missing_neighbors(conn, K) == pointing  # the lists it was cut from are short now
    assert compute_neighbors(small, k=K).papers == pointing
    lists = neighbour_lists(small)
    assert len(lists) == SMALL - 1 and all(len(lst) == K and x not in lst for lst in lists.values())


def test_an_interrupted_run_keeps_its_committed_batches(
    db: Settings, sample_parts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, vectors = sample_parts
    load_sources(db, write_part(tmp_path, "small", lines[:SMALL], vectors[:SMALL]))
    real_batch = neighbors._run_batch
    calls = 0

    def failing_third_batch(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("interrupted")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(neighbors, "_run_batch", failing_third_batch)
    with pytest.raises(RuntimeError, match="interrupted"):
        compute_neighbors(db, k=K, batch_size=100, workers=1)
    monkeypatch.undo()

    with connect(db) as conn:
        assert conn.execute("select count(distinct paper_id) from paper_neighbors").fetchone()[0] == 200
        assert papers_missing_neighbors(conn, K) == SMALL - 200
    rest = compute_neighbors(db, k=K, batch_size=100)
    assert rest.papers == SMALL - 200
    assert len(neighbour_lists(db)) == SMALL


def test_k_out_of_range_and_a_missing_hnsw_index_are_refused(db: Settings) -> None:
    for k in (0, 101):
        with pytest.raises(ValueError, match="k must be between 1 and 100"):
            compute_neighbors(db, k=k)
    with connect(db) as conn:
        conn.execute("drop index papers_embedding_hnsw")
        conn.commit()
    with pytest.raises(RuntimeError, match="papers_embedding_hnsw is missing"):
        compute_neighbors(db, k=K)
