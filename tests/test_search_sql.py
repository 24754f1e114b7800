"""The SQL functions of sql/search.sql, called as a psql user would, on the real 10k sample."""

from __future__ import annotations

import subprocess

import numpy as np
import psycopg
import pytest
from pgvector import HalfVector
from pgvector.psycopg import register_vector

from app.embedded_db import EmbeddedPostgres
from app.settings import Settings


@pytest.fixture(scope="module")
def conn(loaded_10k: Settings):
    with psycopg.connect(loaded_10k.database_url) as connection:
        register_vector(connection)
        yield connection


def stored_vectors(conn: psycopg.Connection) -> tuple[np.ndarray, np.ndarray]:
    rows = conn.execute("select id, embedding from papers where embedding is not null order by id").fetchall()
    ids = np.array([r[0] for r in rows])
    vectors = np.stack([r[1].to_numpy().astype(np.float32) for r in rows])
    return ids, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_sample_is_loaded_with_embeddings_and_an_index(conn: psycopg.Connection) -> None:
    total, embedded = conn.execute("select count(*), count(embedding) from papers").fetchone()
    # one row of the sample has an id that cannot be repaired (1907.0658, v1 in 2019-04): rejected
    assert total == 9992 and embedded == 9992
    indexes = {r[0] for r in conn.execute("select indexname from pg_indexes where tablename = 'papers'")}
    assert {"papers_embedding_hnsw", "papers_search_tsv", "papers_arxiv_id_key"} <= indexes
    plan = "\n".join(r[0] for r in conn.execute(
        "explain select id from papers order by embedding <=> (select embedding from papers limit 1) limit 10"
    ))
    assert "papers_embedding_hnsw" in plan


def test_hnsw_recall_at_10_against_exact_search(conn: psycopg.Connection) -> None:
    ids, vectors = stored_vectors(conn)
    rng = np.random.default_rng(7)
    queries = rng.choice(len(ids), size=200, replace=False)
    recalls = []
    for q in queries:
        exact = ids[np.argsort(-(vectors @ vectors[q]))[:10]]
        got = [r[0] for r in conn.execute(
            "select paper_id from search_papers_by_vector(%s, 10)", (HalfVector(vectors[q]),)
        )]
        assert len(got) == 10
        recalls.append(len(set(got) & set(exact)) / 10)
    assert np.mean(recalls) >= 0.95, f"recall@10 = {np.mean(recalls):.3f}"


def test_similar_papers_excludes_the_paper_and_orders_by_similarity(conn: psycopg.Connection) -> None:
    rows = conn.execute("select arxiv_id, similarity from similar_papers('0705.1986', 10)").fetchall()
    assert len(rows) == 10
    assert "0705.1986" not in [r[0] for r in rows]
    similarities = [r[1] for r in rows]
    assert similarities == sorted(similarities, reverse=True) and 0 < similarities[-1] <= similarities[0] < 1
    # the nearest neighbour by brute force is the first answer
    ids, vectors = stored_vectors(conn)
    own = conn.execute("select id from papers where arxiv_id = '0705.1986'").fetchone()[0]
    position = int(np.where(ids == own)[0][0])
    scores = vectors @ vectors[position]
    scores[position] = -1
    best = conn.execute("select arxiv_id from papers where id = %s", (int(ids[scores.argmax()]),)).fetchone()[0]
    assert rows[0][0] == best


def test_similar_papers_of_unknown_id_raises_a_clear_error(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.NoDataFound, match="no paper with arxiv_id 9999.99999"):
        conn.execute("select * from similar_papers('9999.99999', 5)")
    conn.rollback()


@pytest.mark.parametrize("category, check", [
    ("math.AG", lambda main: main == "math.AG"),
    ("cs", lambda main: main.startswith("cs.")),
    ("hep-th", lambda main: main == "hep-th"),
])
def test_filtered_vector_search_still_returns_k_rows(conn: psycopg.Connection, category, check) -> None:
    query = conn.execute("select embedding from papers where arxiv_id = '0705.1986'").fetchone()[0]
    rows = conn.execute(
        "select main_category from search_papers_by_vector(%s, 25, category => %s)", (query, category)
    ).fetchall()
    available = conn.execute(
        "select count(*) from papers where main_category = %(c)s or archive = %(c)s", {"c": category}
    ).fetchone()[0]
    assert len(rows) == min(25, available) and available >= 10
    assert all(check(r[0]) for r in rows)


def test_date_filter_keeps_only_papers_in_range(conn: psycopg.Connection) -> None:
    query = conn.execute("select embedding from papers where arxiv_id = '0705.1986'").fetchone()[0]
    rows = conn.execute(
        "select published from search_papers_by_vector(%s, 30, published_from => '2015-01-01', "
        "published_to => '2015-12-31')", (query,)
    ).fetchall()
    assert len(rows) == 30
    assert all(r[0].year == 2015 for r in rows)


def test_text_search_ranks_title_matches_and_finds_authors(conn: psycopg.Connection) -> None:
    rows = conn.execute("select title, rank from search_papers_by_text('Hopcroft minimization', 5)").fetchall()
    assert rows and "Hopcroft" in rows[0][0]
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
    by_author = conn.execute("select authors from search_papers_by_text('Andrei Paun', 5)").fetchall()
    assert any("Andrei Paun" in r[0] for r in by_author)
    assert conn.execute("select count(*) from search_papers_by_text('zzzyxwv qqqxx', 5)").fetchone()[0] == 0


def test_hybrid_fuses_both_rankings(conn: psycopg.Connection) -> None:
    query = conn.execute("select embedding from papers where arxiv_id = '0705.1986'").fetchone()[0]
    rows = conn.execute(
        "select arxiv_id, score, semantic_rank, keyword_rank "
        "from search_papers_hybrid('Hopcroft minimization algorithm', %s, 10)", (query,)
    ).fetchall()
    assert len(rows) == 10
    assert rows[0][0] == "0705.1986" and rows[0][2] is not None and rows[0][3] is not None
    scores = [r[1] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert rows[0][1] == pytest.approx(1 / (60 + rows[0][2]) + 1 / (60 + rows[0][3]))


def test_functions_work_from_the_psql_binary(loaded_10k: Settings) -> None:
    psql = str(EmbeddedPostgres(loaded_10k).psql_path())
    out = subprocess.run(
        [psql, loaded_10k.database_url, "-tA", "-c",
         "select arxiv_id from similar_papers('0705.1986', 3)"],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.split()) == 3


def test_project_embedding_in_sql_matches_the_loader(conn: psycopg.Connection, shared_data) -> None:
    native = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[0].astype(np.float32)
    projected = conn.execute("select project_embedding(%s::real[])", (native.tolist(),)).fetchone()[0]
    stored = conn.execute("select embedding from papers where arxiv_id = '0705.1986'").fetchone()[0]
    a, b = projected.to_numpy().astype(np.float32), stored.to_numpy().astype(np.float32)
    assert float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.999
    with pytest.raises(psycopg.errors.RaiseException, match="expects 384"):
        conn.execute("select project_embedding(array[1, 2, 3]::real[])")
    conn.rollback()
    space = conn.execute("select model, native_dimensions, projection from embedding_space").fetchone()
    assert space == ("sentence-transformers/all-MiniLM-L6-v2", 384, "pca")


def test_author_keys_in_plpgsql_equal_the_sql_version_of_0006(conn: psycopg.Connection) -> None:
    """sql/author_keys.sql replaced search_fields.sql's author_search_keys for speed: same keys, every paper."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "sql" / "search_fields.sql").read_text()
    original = re.search(r"create or replace function author_search_keys\(.*?\n\);\n", text, re.S).group(0)
    conn.execute(original.replace("function author_search_keys(", "function pg_temp.author_keys_0006("))
    same = "author_search_keys(%(a)s::text[]) is not distinct from pg_temp.author_keys_0006(%(a)s::text[])"
    differing, papers = conn.execute(
        f"select count(*) filter (where not ({same.replace('%(a)s', 'authors')})), count(*) from papers"
    ).fetchone()
    assert papers > 9000 and differing == 0
    for authors in ([], [None], [""], ["  "], ["Plato"], ["J.-P. Serre", "Jean-Pierre  Serre", "Erwin Schrödinger"]):
        assert conn.execute(f"select {same}", {"a": authors}).fetchone()[0], authors
    conn.rollback()
