"""`atlas embed`: missing embeddings computed with the local model or an OpenAI-compatible server."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import psycopg
import pytest
from openai_compatible_server import OpenAICompatibleServer, fake_embedding
from pgvector.psycopg import register_vector

from app.core.embedders import EmbeddingError, LocalEmbedder, paper_text
from app.core.settings import Settings
from app.core.space import SpaceMismatchError, read_space
from app.services.paper_search import Mode, SearchQuery, search_once
from etl.embed import embed_missing
from etl.load import LoadOptions, load_sources

KEY = "embed-test-key"


def sample_lines(shared_data: Path, start: int, stop: int) -> list[str]:
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [line for i, line in enumerate(handle) if start <= i < stop]


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def stored(settings: Settings) -> dict[str, np.ndarray]:
    with psycopg.connect(settings.database_url) as conn:
        register_vector(conn)
        rows = conn.execute("select arxiv_id, embedding from papers where embedding is not null").fetchall()
    return {arxiv_id: e.to_numpy().astype(np.float32) for arxiv_id, e in rows}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def local_embedder() -> LocalEmbedder:
    return LocalEmbedder("all-MiniLM-L6-v2")


def test_local_embed_fills_missing_vectors_in_the_recorded_space_and_resumes(
    make_db, shared_data: Path, tmp_path: Path, local_embedder: LocalEmbedder
) -> None:
    settings = dataclasses.replace(make_db(), embed_batch_size=4)
    vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")
    # 400 papers with their shipped vectors fix the space (a PCA 384 -> 256) ...
    corpus = write_jsonl(tmp_path / "corpus.jsonl", sample_lines(shared_data, 0, 400))
    np.save(tmp_path / "corpus.npy", np.asarray(vectors[:400]))
    load_sources(settings, LoadOptions([corpus], embeddings=tmp_path / "corpus.npy",
                                       embedding_model="all-MiniLM-L6-v2", progress=False))
    # ... then 12 more papers arrive without vectors.
    extra_lines = sample_lines(shared_data, 400, 412)
    load_sources(settings, LoadOptions([write_jsonl(tmp_path / "new.jsonl", extra_lines)], progress=False))
    assert len(stored(settings)) == 400

    first = embed_missing(settings, limit=5, embedder=local_embedder, progress=False)
    assert (first.embedded, first.remaining) == (5, 7)
    second = embed_missing(settings, embedder=local_embedder, progress=False)
    assert (second.embedded, second.remaining) == (7, 0)  # resumed: the first 5 were not redone

    with psycopg.connect(settings.database_url) as conn:
        register_vector(conn)
        space = read_space(conn)
    have = stored(settings)
    for offset, line in enumerate(extra_lines):
        arxiv_id = json.loads(line)["arxiv_id"]
        expected = space.project(np.asarray(vectors[400 + offset : 401 + offset], dtype=np.float32))[0]
        assert cosine(have[arxiv_id], expected.astype(np.float32)) > 0.99, arxiv_id


def test_openai_embed_records_its_space_and_serves_semantic_search(
    make_db, shared_data: Path, tmp_path: Path, local_embedder: LocalEmbedder
) -> None:
    lines = sample_lines(shared_data, 0, 30)
    with OpenAICompatibleServer(api_key=KEY) as server:
        settings = make_db(
            embedding_provider="openai", openai_base_url=server.base_url, openai_api_key=KEY,
            embed_batch_size=8,
        )
        load_sources(settings, LoadOptions([write_jsonl(tmp_path / "p.jsonl", lines)], progress=False))

        # the server fails for good after the first request: what was committed stays
        server.fail_next(100, 401)
        with pytest.raises(EmbeddingError):
            embed_missing(settings, progress=False)
        server.reset()
        report = embed_missing(settings, progress=False)
        assert report.remaining == 0

        have = stored(settings)
        assert len(have) == 30
        for line in lines:
            paper = json.loads(line)
            expected = fake_embedding(paper_text(paper["title"], paper["abstract"]), 256)
            assert cosine(have[paper["arxiv_id"]], expected) > 0.999
        embedding_requests = server.bodies("/v1/embeddings")
        assert all(body["dimensions"] == 256 for body in embedding_requests)
        assert all(body["model"] == "text-embedding-3-large" for body in embedding_requests)

        with psycopg.connect(settings.database_url) as conn:
            register_vector(conn)
            space = read_space(conn)
        assert (space.model, space.native_dimensions, space.projection) == ("text-embedding-3-large", 256, "none")

        # a query is embedded by the same server: a paper's exact text finds that paper first
        target = json.loads(lines[3])
        hits = search_once(settings, SearchQuery(paper_text(target["title"], target["abstract"]), Mode.semantic,
                                                 top_k=3, top_n=3)).hits
        assert hits[0]["arxiv_id"] == target["arxiv_id"] and hits[0]["score"] > 0.99

    # one database, one space: the local model is refused here
    with pytest.raises(SpaceMismatchError, match="text-embedding-3-large.*all-MiniLM-L6-v2"):
        embed_missing(dataclasses.replace(settings, embedding_provider="local"), embedder=local_embedder)
