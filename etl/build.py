"""`atlas build`: every step after loading, each skipped when already up to date.

    embeddings   papers without a vector are embedded (etl/embed.py); when the database's model is not
                 available here, this step says so and the others build from the stored vectors
    index        the HNSW index exists and is valid (rebuilt if someone dropped it)
    maps         the default maps that do not exist yet are built (etl/maps/build.py);
                 papers missing from existing maps are placed (etl/maps/place.py)
    tiles        maps whose points changed since their tiles were written get new tiles, and so do maps
                 whose tiles are in an older record layout than the code writes (maps.tile_format)
    topics       maps whose points changed since their topics were computed get new topics
    neighbours   papers without a neighbour list get one (etl/neighbors.py)

What "up to date" means is kept in the database (maps.points_changed_at, tiles_built_at,
topics_built_at; a paper's rows in paper_neighbors), so a second run does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.core.connections import connect
from app.core.settings import Settings

HNSW_INDEX = "papers_embedding_hnsw"
# Its definition is in paper_index_definitions (sql/idempotent/090-index-builds.sql): the owner
# builds it through create_paper_index, atlas_etl having no CREATE on schema public.


@dataclass
class StepReport:
    step: str
    did: str
    seconds: float

    def __str__(self) -> str:
        return f"{self.step:<11} {self.did} ({self.seconds:.1f} s)"


def _step(name: str, action: Callable[[], str], reports: list[StepReport], echo: Callable[[str], None]) -> None:
    started = time.monotonic()
    did = action()
    report = StepReport(name, did, time.monotonic() - started)
    reports.append(report)
    echo(str(report))


def _embeddings(settings: Settings) -> str:
    with connect(settings) as conn:
        missing = conn.execute("select count(*) from papers where embedding is null").fetchone()[0]
    if not missing:
        return "up to date"
    from app.core.embedders import EmbeddingError
    from app.core.space import SpaceMismatchError
    from etl.embed import embed_missing

    try:
        return str(embed_missing(settings))
    except (SpaceMismatchError, EmbeddingError) as exc:
        # Only these papers need the model: the other steps build from the stored vectors.
        return f"skipped: {missing} papers without a vector stay off the maps ({exc})"


def ensure_hnsw_index(settings: Settings) -> str:
    """The HNSW index exists and is valid (created or rebuilt when not); says which."""
    return _index(settings)


def _index(settings: Settings) -> str:
    with connect(settings) as conn:
        row = conn.execute(
            "select i.indisvalid from pg_index i where i.indexrelid = to_regclass(%s)", (HNSW_INDEX,)
        ).fetchone()
        if row is not None and row[0]:
            return "up to date"
        if row is not None:
            conn.execute(f"drop index {HNSW_INDEX}")
        conn.execute("call public.create_paper_index(%s)", (HNSW_INDEX,))
        conn.commit()
    return "HNSW index rebuilt" if row is not None else "HNSW index created"


def _maps(settings: Settings, echo: Callable[[str], None]) -> str:
    from etl.maps.build import build_map
    from etl.maps.definitions import default_specs
    from etl.maps.place import place_papers

    with connect(settings) as conn:
        existing = {row[0] for row in conn.execute("select name from maps")}
        specs = [s for s in default_specs(conn, settings.map_min_papers) if s.name not in existing]
    done: list[str] = []
    for spec in specs:
        summary = build_map(settings, spec)
        echo(f"            {summary.describe()}")
        done.append(spec.name)
    placed = [s for s in place_papers(settings) if s.placed]
    for placement in placed:
        echo(f"            {placement.describe()}")
    if not done and not placed:
        return "up to date"
    parts = []
    if done:
        parts.append(f"built {', '.join(done)}")
    if placed:
        parts.append(f"placed {sum(s.placed for s in placed)} papers on {len(placed)} maps")
    return "; ".join(parts)


def _stale_maps(settings: Settings, column: str, also: str = "false") -> list[tuple[int, str]]:
    with connect(settings) as conn:
        return conn.execute(
            f"select id, name from maps where extent is not null "  # noqa: S608 - identifiers and conditions from this module's constants
            f"and ({column} is null or {column} < points_changed_at or {also}) order by id"
        ).fetchall()


def _tiles(settings: Settings) -> str:
    from etl.maps.build import map_quadtree, read_map_points, write_layout
    from etl.maps.tiles import TILE_FORMAT

    stale = _stale_maps(settings, "tiles_built_at", f"tile_format < {int(TILE_FORMAT)}")
    if not stale:
        return "up to date"
    with connect(settings) as conn:
        for map_id, _ in stale:
            with conn.transaction():
                quadtree = map_quadtree(conn, map_id)
                assert quadtree is not None
                write_layout(conn, map_id, read_map_points(conn, map_id), quadtree, settings.tile_points,
                             settings.map_seed, points_written=True)
    return f"rewrote the tiles of {', '.join(name for _, name in stale)}"


def _topics(settings: Settings) -> str:
    from etl.maps.topics import build_map_topics

    stale = _stale_maps(settings, "topics_built_at")
    if not stale:
        return "up to date"
    with connect(settings) as conn:
        for map_id, _ in stale:
            with conn.transaction():
                build_map_topics(conn, map_id, seed=settings.map_seed)
    return f"recomputed the topics of {', '.join(name for _, name in stale)}"


def _neighbors(settings: Settings) -> str:
    from etl.neighbors import compute_neighbors

    summary = compute_neighbors(settings, k=settings.neighbors_k)
    return "up to date" if summary.papers == 0 else summary.describe()


def build_all(settings: Settings, echo: Callable[[str], None] = print) -> list[StepReport]:
    reports: list[StepReport] = []
    _step("embeddings", lambda: _embeddings(settings), reports, echo)
    _step("index", lambda: _index(settings), reports, echo)
    _step("maps", lambda: _maps(settings, echo), reports, echo)
    _step("tiles", lambda: _tiles(settings), reports, echo)
    _step("topics", lambda: _topics(settings), reports, echo)
    _step("neighbours", lambda: _neighbors(settings), reports, echo)
    return reports
