"""An installed `atlas` works from any folder: the migrations and the SQL ship inside the package.

The wheel is built from this checkout and installed into a fresh virtual environment (its
dependencies come from the project's environment through a path entry, so nothing is downloaded);
every command then runs from an empty temporary folder, far from the checkout.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port

REPO = Path(__file__).resolve().parent.parent
PAPERS = 300


@pytest.fixture(scope="module")
def installed_atlas(tmp_path_factory) -> Path:
    """bin/ of a fresh venv where `pip install <wheel of this checkout>` put `atlas`."""
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True, capture_output=True, text=True)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # the project's dependencies, without the project itself (its editable finder is not loaded from here)
    (site / "atlas-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("arxiv_atlas-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-deps", str(wheel)], check=True, capture_output=True, text=True)
    return venv / "bin"


def small_sample(shared_data: Path, folder: Path) -> Path:
    """The first PAPERS papers of the real 10k sample with their vectors, named so `--embeddings auto` finds them."""
    source = folder / "first300.jsonl.gz"
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt") as rows, gzip.open(source, "wt") as out:
        for _ in range(PAPERS):
            out.write(rows.readline())
    vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")[:PAPERS]
    np.save(folder / "first300.all-MiniLM-L6-v2.f16.npy", np.ascontiguousarray(vectors))
    return source


def test_installed_atlas_runs_from_any_folder(
    installed_atlas: Path, shared_data: Path, tmp_path: Path, server_dir: Path,
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATLAS_", "DATABASE_URL", "PYTHONPATH"))}
    # The server's data outside pytest's temp root, which another pytest session may lock (conftest.server_folder)
    env.update(ATLAS_DATA_DIR=str(server_dir), ATLAS_DB_PORT=str(free_port()), ATLAS_MAP_MIN_PAPERS="100000",
               ATLAS_UMAP_N_EPOCHS="50", ATLAS_NEIGHBORS_K="5")
    atlas = str(installed_atlas / "atlas")

    def run(*args: str) -> str:
        result = subprocess.run([atlas, *args], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"atlas {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    # the code comes from the wheel, not from the checkout
    origin = subprocess.run([str(installed_atlas / "python"), "-c", "import app, atlas_sql; print(app.__file__, "
                             "atlas_sql.__file__)"], cwd=work, capture_output=True, text=True, check=True).stdout
    assert str(REPO) not in origin and "site-packages" in origin
    try:
        run("db", "start")
        upgraded = run("db", "upgrade")
        assert "SQL layer re-applied" in upgraded
        source = small_sample(shared_data, tmp_path)
        assert f"{PAPERS} rows in" in run("load", str(source), "--embeddings", "auto")
        run("build")
        status = run("db", "status")
        assert f"papers: {PAPERS}" in status and "matches the installed SQL" in status
        # a new ATLAS_DB_NAME on the running server is created by `atlas db upgrade`
        env["ATLAS_DB_NAME"] = "second_atlas"
        assert "SQL layer re-applied" in run("db", "upgrade")
        assert "papers: 0" in run("db", "status")
        env["ATLAS_DB_NAME"] = "atlas"
        port = free_port()
        server = subprocess.Popen([atlas, "serve", "--port", str(port)], cwd=work, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/maps", timeout=5) as answer:  # noqa: S310
                        maps = json.load(answer)
                    break
                except OSError:
                    assert time.monotonic() < deadline, "atlas serve did not answer"
                    time.sleep(0.5)
            assert any(m["paper_count"] == PAPERS for m in maps), maps
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        subprocess.run([atlas, "db", "stop"], cwd=work, env=env, capture_output=True, timeout=120)
