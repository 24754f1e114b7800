"""The real 10k sample loaded (`loaded_10k`) and built (`mapped_10k`) once per test run, not once per worker.

Loading the sample and `build_all` (UMAP maps, tiles, topics, neighbour lists) take minutes, and every
pytest-xdist worker needs its own copy, because tests write to these databases (in transactions they
roll back, or with a second `build_all`) and change server-wide roles. So one background process, started
as soon as the collected tests show that one of them needs these databases, builds them on an embedded
server of its own (the seed), stops it, and each worker then copies the stopped seed's data folder and
starts the copy on a free port: a private server holding the same bytes, in a few seconds.

Run as a script, this module is that background process: `python seed_databases.py FOLDER [--mapped]`.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from app.core.connections import url_with_database
from app.core.embedded_server import EmbeddedPostgres
from app.core.settings import Settings, get_settings

TEMPLATE = "atlas_template"
LOADED = "atlas_loaded_10k"
MAPPED = "atlas_mapped_10k"
DONE, FAILED, LOG, STAGES = "done", "failed", "build.log", "stages"
WAIT_SECONDS = 1800  # the seed's build, under the load of both workers, takes a few minutes


def base_settings() -> Settings:
    # Apps made by tests load their models on first use; tests of the warm-up turn it back on.
    return dataclasses.replace(get_settings(), warm_models=False)


def loaded_settings(base: Settings, admin_url: str, folder: Path) -> Settings:
    """Settings of the loaded 10k database on the server of `admin_url`, files under `folder`."""
    return dataclasses.replace(
        base, database_url=url_with_database(admin_url, LOADED), data_dir=folder, reject_dir=folder / "rejects",
    )


def mapped_settings(base: Settings, admin_url: str, folder: Path) -> Settings:
    """Settings of the mapped 10k database: the map settings its build used, which tests build with again."""
    return dataclasses.replace(
        base, database_url=url_with_database(admin_url, MAPPED), data_dir=folder, reject_dir=folder / "rejects",
        map_min_papers=2000, map_fit_sample=100_000, tile_points=2048,
        umap_n_epochs=200,  # umap-learn would take 500 below 10k papers; the maps are as good for the tests
    )


def server_of(folder: Path, port: int = 0) -> EmbeddedPostgres:
    return EmbeddedPostgres(Settings(data_dir=folder / "server", db_port=port))


def snapshot(server: EmbeddedPostgres, folder: Path, stage: str, *, last: bool) -> None:
    """The stopped server's data to `folder/stage/server` (copied, or moved after the last stage), then
    the stage marked done."""
    (folder / stage).mkdir()
    if last:
        server.data_dir.rename(folder / stage / "server")
    else:
        subprocess.run(["cp", "-a", str(server.data_dir), str(folder / stage / "server")], check=True)
    (folder / stage / DONE).write_text("")


def build_seed(folder: Path, *, mapped: bool) -> None:
    """The background process: on a new embedded server in `folder/work`, migrate a template and load the
    10k sample with its vectors (stage `loaded`); with `mapped`, then `atlas build` a copy of that database
    (stage `mapped`). Each stage is a snapshot of the stopped server; a failure writes `failed`."""
    from conftest import create_database, free_port

    from app.core.migrate import upgrade_database
    from etl.build import build_all
    from etl.load import LoadOptions, load_sources

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server on the way out
    base = base_settings()
    server = server_of(folder / "work", free_port())
    try:
        server.start()
        admin_url = server.url("postgres")
        create_database(admin_url, TEMPLATE)
        upgrade_database(dataclasses.replace(base, database_url=url_with_database(admin_url, TEMPLATE),
                                             data_dir=folder / "template"))
        create_database(admin_url, LOADED, TEMPLATE)
        load_sources(loaded_settings(base, admin_url, folder / "loaded-10k"), LoadOptions(
            sources=[base.shared_data_dir / "arxiv-10k.jsonl.gz"],
            embeddings=base.shared_data_dir / "arxiv-10k.all-MiniLM-L6-v2.f16.npy",
            progress=False,
        ))
        server.stop()
        snapshot(server, folder, "loaded", last=not mapped)
        if mapped:
            server.start()
            create_database(admin_url, MAPPED, LOADED)  # the same load, then `atlas build`
            build_all(mapped_settings(base, admin_url, folder / "mapped-10k"), echo=lambda line: None)
            server.stop()
            snapshot(server, folder, "mapped", last=True)
    except BaseException:
        (folder / FAILED).write_text(traceback.format_exc())
        raise
    finally:
        server.stop()


def start_seed(folder: Path, *, mapped: bool) -> subprocess.Popen:
    """Start the background build in `folder`; FileExistsError when another process started it already."""
    folder.mkdir()
    (folder / STAGES).write_text("loaded\nmapped\n" if mapped else "loaded\n")
    tests = Path(__file__).resolve().parent
    path = os.pathsep.join([str(tests.parent), str(tests), os.environ.get("PYTHONPATH", "")])
    with (folder / LOG).open("w") as log:
        return subprocess.Popen(
            [sys.executable, __file__, str(folder), *(["--mapped"] if mapped else [])],
            stdout=log, stderr=subprocess.STDOUT, cwd=tests.parent, env={**os.environ, "PYTHONPATH": path},
        )


def wait_for_stage(folder: Path, stage: str) -> Path:
    """`folder/stage` once the background build has written it; a clear error with its log when it failed."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not (folder / stage / DONE).exists():
        if (folder / STAGES).exists() and stage not in (folder / STAGES).read_text().split():
            raise RuntimeError(f"this run builds no {stage} 10k database: no collected test named its fixture")
        if (folder / FAILED).exists() or time.monotonic() > deadline:
            log = (folder / LOG).read_text() if (folder / LOG).exists() else ""
            raise RuntimeError(f"the 10k fixture databases were not built in {folder}:\n{log[-4000:]}")
        time.sleep(0.5)
    return folder / stage


def copy_of_stage(folder: Path, stage: str, target: Path) -> EmbeddedPostgres:
    """A running server on a free port over a copy of a stage's data (owners and modes kept)."""
    from conftest import free_port

    source = wait_for_stage(folder, stage)
    subprocess.run(["cp", "-a", str(source / "server"), str(target / "server")], check=True)
    server = server_of(target, free_port())
    server.start()
    return server


if __name__ == "__main__":
    build_seed(Path(sys.argv[1]), mapped="--mapped" in sys.argv[2:])
