"""Maps change with the data: new papers are placed without moving old ones; seed coordinates are kept."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import fresh_database, writable_copy

from app.cli import main
from app.core.connections import connect
from app.core.settings import Settings
from etl.load import LoadOptions, load_sources
from etl.maps.build import build_map
from etl.maps.definitions import MapDefinitionError, MapSpec, spec_for


def slice_of_sample(shared_data: Path, folder: Path, name: str, start: int, stop: int) -> tuple[Path, Path]:
    """Lines [start, stop) of the 10k sample and their vectors, as a source + .npy pair."""
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = list(itertools.islice(f, start, stop))
    source = folder / f"{name}.jsonl"
    source.write_text("".join(lines))
    vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[start:stop]
    npy = folder / f"{name}.all-MiniLM-L6-v2.f16.npy"
    np.save(npy, np.ascontiguousarray(vectors))
    return source, npy


def positions(settings: Settings, name: str) -> dict[int, tuple[float, float, bool]]:
    with connect(settings) as conn:
        return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            "select mp.paper_id, mp.x, mp.y, mp.placed from map_points mp join maps m on m.id = mp.map_id "
            "where m.name = %s", (name,))}


@pytest.fixture(scope="module")
def small_map_built(
    pg_admin_url: str, template_database: str, base_settings: Settings, shared_data: Path, tmp_path_factory,
) -> Iterator[Settings]:
    """The first 2500 papers of the sample and their map, built once for this file; tests get copies."""
    folder = tmp_path_factory.mktemp("small-map")
    with fresh_database(pg_admin_url, template_database, base_settings, "atlas_small_map", folder,
                        tile_points=256, map_min_papers=10**9, umap_n_epochs=200) as settings:
        source, npy = slice_of_sample(shared_data, folder, "first", 0, 2500)
        load_sources(settings, LoadOptions([source], embeddings=npy, progress=False))
        build_map(settings, MapSpec("all", "All papers"))
        yield settings


@pytest.fixture
def small_map(small_map_built: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A writable copy (CREATE DATABASE ... TEMPLATE) of the small map, for one test."""
    with writable_copy(small_map_built, "atlas_small_map", tmp_path) as settings:
        yield settings


def test_atlas_load_places_new_papers_without_moving_old_ones(
    small_map: Settings, shared_data: Path, tmp_path: Path, monkeypatch, capsys,
) -> None:
    assert facts_out_of_step(small_map) == 0  # the build wrote each point's facts and vector
    with connect(small_map) as conn:
        assert conn.execute("select count(*) from map_points where embedding is null").fetchone()[0] == 0
    before = positions(small_map, "all")
    with connect(small_map) as conn:
        tiles_before = conn.execute("select tiles_built_at from maps").fetchone()[0]
    source, npy = slice_of_sample(shared_data, tmp_path, "more", 2500, 2800)
    monkeypatch.setenv("DATABASE_URL", small_map.database_url)
    monkeypatch.setenv("ATLAS_TILE_POINTS", "256")
    assert main(["load", str(source), "--embeddings", str(npy)]) == 0
    assert "map all: 300 papers placed" in capsys.readouterr().out
    after = positions(small_map, "all")
    assert len(after) == len(before) + 300
    assert all(after[k] == v for k, v in before.items())  # old points did not move
    new = [v for k, v in after.items() if k not in before]
    assert all(placed for _, _, placed in new)
    xs = np.array([v[0] for v in before.values()])
    assert all(xs.min() <= x <= xs.max() for x, _, _ in new)
    with connect(small_map) as conn:
        count, tiles_at, topics_at, changed_at, points_in_tiles = conn.execute(
            "select paper_count, tiles_built_at, topics_built_at, points_changed_at, "
            "(select sum(points) from map_tiles t where t.map_id = maps.id) from maps").fetchone()
        sizes = conn.execute("select level, sum(size) from map_topics group by level").fetchall()
    assert count == len(after) == points_in_tiles
    assert tiles_at > tiles_before and tiles_at == topics_at == changed_at
    assert all(total == len(after) for _, total in sizes)
    assert facts_out_of_step(small_map) == 0  # placed points got their category code and date too


def facts_out_of_step(settings: Settings) -> int:
    """map_points rows whose category code, publication time or vector differ from papers.

    The viewport query reads the first two from map_points (sql/idempotent/050-maps.sql), the footprint
    scan the vector (095-footprint.sql, migration 0018).
    """
    with connect(settings) as conn:
        return conn.execute(
            "select count(*) from map_points mp join maps m on m.id = mp.map_id join papers p on p.id = mp.paper_id "
            "where (mp.category, mp.published, mp.embedding) is distinct from "
            "(coalesce(array_position(m.categories, p.main_category), 0), p.published, p.embedding)"
        ).fetchone()[0]


def test_a_changed_embedding_takes_the_paper_off_the_map_until_build_places_it_again(small_map: Settings) -> None:
    from etl.build import build_all

    with connect(small_map) as conn:
        moved = conn.execute("select id from papers order by id limit 1").fetchone()[0]
        conn.execute("update papers set embedding = (select embedding from papers order by id desc limit 1) "
                     "where id = %s", (moved,))
        conn.commit()
        assert conn.execute("select count(*) from map_points where paper_id = %s", (moved,)).fetchone()[0] == 0
        stale = conn.execute("select tiles_built_at < points_changed_at from maps").fetchone()[0]
    assert stale
    lines: list[str] = []
    build_all(small_map, echo=lines.append)
    assert any(line.startswith("maps") and "placed 1 papers" in line for line in lines), lines
    after = positions(small_map, "all")
    assert after[moved][2] is True
    assert facts_out_of_step(small_map) == 0  # placed again with its new vector
    lines.clear()
    build_all(small_map, echo=lines.append)
    assert all("up to date" in line for line in lines), lines


def test_migration_0018_copies_the_vectors_of_points_built_before_it(small_map: Settings) -> None:
    from app.core.migrate import downgrade_database, upgrade_database

    with connect(small_map) as conn:
        points = conn.execute("select count(*) from map_points").fetchone()[0]
    downgrade_database(small_map, "0017")  # drops map_points.embedding: a map built before 0018
    with connect(small_map) as conn:
        columns = conn.execute("select count(*) from information_schema.columns "
                               "where table_name = 'map_points' and column_name = 'embedding'").fetchone()[0]
    assert columns == 0
    upgrade_database(small_map)
    with connect(small_map) as conn:
        filled = conn.execute("select count(embedding) from map_points").fetchone()[0]
    assert filled == points > 2000
    assert facts_out_of_step(small_map) == 0


def test_a_map_of_the_seeds_archive_keeps_the_seeds_coordinates(make_db, sample, tmp_path: Path) -> None:
    from sample_formats import seed_frame

    settings = make_db()
    frame = seed_frame(sample)
    path = tmp_path / "arxiv_cs.pkl"
    frame.to_pickle(path)
    load_sources(settings, LoadOptions([path], progress=False))
    with connect(settings) as conn:
        archives = [r[0] for r in conn.execute("select archive from papers group by 1 order by count(*) desc")]
    summary = build_map(settings, MapSpec("all", "All papers"))
    assert summary.method == "seed"  # one pickle holds every paper of this database
    placed = positions(settings, "all")
    with connect(settings) as conn:
        seeded = dict(conn.execute("select paper_id, x from seed_map_coordinates").fetchall())
    assert all(placed[k][0] == pytest.approx(seeded[k]) for k in seeded)
    assert archives  # the sample mixes archives; the pickle's own map is used as it is


def test_map_specs_from_names_and_filters(loaded_10k: Settings) -> None:
    with connect(loaded_10k) as conn:
        spec = spec_for(conn, None, ["cs.CL", "cs.LG"])
        assert spec.name == "cs.cl-cs.lg" and spec.filter == ("cs.CL", "cs.LG")
        assert spec.title == "Computation and Language, Machine Learning"
        assert spec_for(conn, "bio", ["q-bio"]).title == "Quantitative Biology"
        with pytest.raises(MapDefinitionError, match="unknown archive or category in --filter: cs.XYZ"):
            spec_for(conn, None, ["cs.XYZ"])
    with pytest.raises(MapDefinitionError, match="map name 'Has Spaces'"):
        MapSpec("Has Spaces", "x")


def test_atlas_maps_build_list_and_place_from_the_command_line(small_map: Settings, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", small_map.database_url)
    monkeypatch.setenv("ATLAS_UMAP_N_EPOCHS", "200")
    assert main(["maps", "build", "--filter", "math.PR", "--name", "probability"]) == 0
    out = capsys.readouterr().out
    assert "map probability:" in out and "(umap)" in out
    assert main(["maps", "list"]) == 0
    listing = capsys.readouterr().out
    assert "probability" in listing and "math.PR" in listing and "all papers" in listing
    assert main(["maps", "place"]) == 0
    assert "0 papers placed" in capsys.readouterr().out
    assert main(["maps", "build", "--filter", "nonsense"]) == 1
    assert "unknown archive or category" in capsys.readouterr().err
