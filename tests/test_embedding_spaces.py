"""A database whose vectors come from a model that is not available here (issue 17, "Other embedding
spaces"): the seed's text-embedding-3-large vectors (256-d) while the configured query model is the
local all-MiniLM-L6-v2. Everything that needs no query model still works, and says what it cannot do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from litestar.testing import TestClient
from sample_formats import Sample, seed_frame

from app.api import create_app
from app.core.settings import Settings
from etl.build import build_all
from etl.load import LoadOptions, load_sources


@pytest.fixture(scope="module")
def openai_space(pg_admin_url: str, template_database: str, base_settings: Settings, sample: Sample,
                 tmp_path_factory) -> Iterator[Settings]:
    """The seed pickle's 200 real papers with their 256-d text-embedding-3-large vectors, and one paper
    without a vector; the configured provider is the local MiniLM (another space)."""
    from conftest import fresh_database

    folder: Path = tmp_path_factory.mktemp("openai-space")
    with fresh_database(pg_admin_url, template_database, base_settings, "atlas_openai", folder,
                        embedding_provider="local", map_min_papers=100_000, umap_n_epochs=50,
                        tile_points=512) as settings:
        pickle = folder / "arxiv_cs.pkl"
        seed_frame(sample).to_pickle(pickle)
        load_sources(settings, LoadOptions(sources=[pickle], progress=False))
        with psycopg.connect(settings.database_url) as conn:
            conn.execute("update papers set embedding = null where id = (select max(id) from papers)")
        yield settings


def admin_rows(settings: Settings, query: str) -> list[tuple]:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(query).fetchall()


def test_build_makes_maps_tiles_topics_and_neighbours_from_the_stored_vectors(openai_space: Settings) -> None:
    lines: list[str] = []
    started = time.monotonic()
    reports = {r.step: r.did for r in build_all(openai_space, echo=lines.append)}
    took = time.monotonic() - started
    # only the paper without a vector needed the model, and the step says why it was skipped
    assert reports["embeddings"].startswith("skipped: 1 papers without a vector")
    assert "text-embedding-3-large" in reports["embeddings"] and "all-MiniLM-L6-v2" in reports["embeddings"]
    assert reports["maps"].startswith("built all")
    maps, points, tiles, topics = admin_rows(openai_space, """
        select (select count(*) from maps where tiles_built_at is not null and topics_built_at is not null),
               (select count(*) from map_points), (select count(*) from map_tiles),
               (select count(*) from map_topics)""")[0]
    papers = admin_rows(openai_space, "select count(*) from papers where embedding is not null")[0][0]
    assert maps == 1 and points == papers and tiles > 0 and topics > 0
    with_neighbours = admin_rows(openai_space, "select count(distinct paper_id) from paper_neighbors")[0][0]
    assert with_neighbours == papers
    # a second run has nothing to do but the same honest note about the paper it cannot embed
    again = {r.step: r.did for r in build_all(openai_space, echo=lines.append)}
    assert again["embeddings"].startswith("skipped") and again["maps"] == "up to date"
    assert again["neighbours"] == "up to date"
    assert took < 120


def test_hybrid_falls_back_to_keyword_at_once_and_semantic_answers_503(openai_space: Settings) -> None:
    title = admin_rows(openai_space, "select title from papers where embedding is not null order by id limit 1")[0][0]
    with TestClient(app=create_app(openai_space)) as client:
        started = time.monotonic()
        first = client.get("/api/search", params={"q": title})  # hybrid, the default mode
        first_took = time.monotonic() - started
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["mode"] == "hybrid" and body["semantic"].startswith("unavailable: ")
        assert "text-embedding-3-large" in body["semantic"]
        assert body["hits"] and body["hits"][0]["title"] == title
        # no model was loaded to find that out, and none is tried again per request
        assert first_took < 3.0
        for _ in range(3):
            again = client.get("/api/search", params={"q": title, "mode": "hybrid"})
            assert again.status_code == 200 and again.json()["semantic"] == body["semantic"]
        semantic = client.get("/api/search", params={"q": title, "mode": "semantic"})
        assert semantic.status_code == 503 and "text-embedding-3-large" in semantic.json()["detail"]
        keyword = client.get("/api/search", params={"q": title, "mode": "keyword"}).json()
        assert "semantic" not in keyword
        health = client.get("/api/health").json()
        embedder = health["models"]["embedder"]
        assert embedder["state"] == "unavailable" and "text-embedding-3-large" in embedder["reason"]
        assert embedder["calls"] == 1  # the one attempt that found the mismatch
        assert health["ready"] is True


def test_atlas_search_says_when_hybrid_ran_as_keyword_search(openai_space: Settings, capsys) -> None:
    import argparse

    from app.cli import cmd_search

    title = admin_rows(openai_space, "select title from papers where embedding is not null order by id limit 1")[0][0]
    assert cmd_search(argparse.Namespace(query=title, mode="hybrid", k=5, rerank=False, category=None),
                      openai_space) == 0
    out, err = capsys.readouterr()
    assert title in out and "note: semantic search unavailable: " in err and "keyword results" in err
