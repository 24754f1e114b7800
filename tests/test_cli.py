"""`atlas neighbors`, `atlas search`, `atlas load` and `atlas settings` as a person runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.core.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def atlas(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "ATLAS_DATA_DIR": str(settings.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )


def test_neighbors_prints_ranked_similar_papers(loaded_10k: Settings) -> None:
    result = atlas(loaded_10k, "neighbors", "0705.1986", "-k", "4")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["1.", "2.", "3.", "4."]
    assert "0705.1986 " not in result.stdout and "(4 results" in lines[-1]


def test_unknown_paper_is_one_clear_error_line(loaded_10k: Settings) -> None:
    result = atlas(loaded_10k, "neighbors", "1234.56789")
    assert result.returncode == 1
    assert "no paper with arxiv_id 1234.56789" in result.stderr and "Traceback" not in result.stderr


def test_search_modes(loaded_10k: Settings) -> None:
    keyword = atlas(loaded_10k, "search", "Hopcroft minimization", "--mode", "keyword", "-k", "3")
    assert keyword.returncode == 0 and "0705.1986" in keyword.stdout.splitlines()[0]
    semantic = atlas(loaded_10k, "search", "worst case of Hopcroft's algorithm for minimizing automata",
                     "--mode", "semantic", "-k", "5")
    assert semantic.returncode == 0, semantic.stderr
    assert "0705.1986" in semantic.stdout
    hybrid = atlas(loaded_10k, "search", "Hopcroft minimization", "--mode", "hybrid", "--category", "cs", "-k", "5")
    assert hybrid.returncode == 0 and "0705.1986" in hybrid.stdout.splitlines()[0]
    nothing = atlas(loaded_10k, "search", "qqqzzzxxy", "--mode", "keyword")
    assert nothing.returncode == 0 and "nothing found" in nothing.stdout


def test_load_of_a_missing_file_fails_cleanly(db: Settings) -> None:
    result = atlas(db, "load", "/nonexistent/papers.jsonl")
    assert result.returncode == 1 and "no such file" in result.stderr and "Traceback" not in result.stderr


def test_settings_lists_every_variable_and_hides_secrets(db: Settings) -> None:
    env = {**os.environ, "DATABASE_URL": db.database_url, "OPENAI_API_KEY": "sk-very-secret"}
    result = subprocess.run([sys.executable, "-m", "app.cli", "settings"], capture_output=True, text=True,
                            env=env, cwd=REPO)
    assert "ATLAS_EMBEDDING_PROVIDER = local" in result.stdout
    assert "sk-very-secret" not in result.stdout and "OPENAI_API_KEY = ***" in result.stdout
    password = db.database_url.split(":")[2].split("@")[0]
    assert password not in result.stdout and "DATABASE_URL = postgresql://atlas:***@" in result.stdout


def test_load_with_embeddings_auto_takes_the_npy_beside_the_source(make_db, shared_data: Path, tmp_path: Path) -> None:
    import gzip

    import numpy as np
    import psycopg

    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt") as handle:
        lines = [next(handle) for _ in range(300)]
    vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[:300]
    with_vectors, without = make_db(), make_db()

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "papers.jsonl").write_text("".join(lines))
    np.save(tmp_path / "a" / "papers.all-MiniLM-L6-v2.f16.npy", np.asarray(vectors))
    loaded = atlas(with_vectors, "load", str(tmp_path / "a" / "papers.jsonl"), "--embeddings", "auto")
    assert loaded.returncode == 0, loaded.stderr
    assert "300 rows in: 300 loaded" in loaded.stdout

    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "papers.jsonl").write_text("".join(lines))
    bare = atlas(without, "load", str(tmp_path / "b" / "papers.jsonl"), "--embeddings", "auto")
    assert bare.returncode == 0 and "loading without embeddings" in bare.stdout

    counts = []
    for settings in (with_vectors, without):
        with psycopg.connect(settings.database_url) as conn:
            counts.append(conn.execute("select count(*), count(embedding) from papers").fetchone())
    assert counts == [(300, 300), (300, 0)]


def test_embed_without_an_api_key_names_the_setting(db: Settings) -> None:
    env = {**os.environ, "DATABASE_URL": db.database_url, "ATLAS_EMBEDDING_PROVIDER": "openai"}
    env.pop("OPENAI_API_KEY", None)
    result = subprocess.run([sys.executable, "-m", "app.cli", "embed"], capture_output=True, text=True, env=env,
                            cwd=REPO, timeout=120)
    assert result.returncode == 1
    assert "OPENAI_API_KEY" in result.stderr and "Traceback" not in result.stderr
