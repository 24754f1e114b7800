"""`atlas update`: the daily path. A day's papers onto an atlas that is already built, touching only what they change.

    load         `atlas load` of the sources (etl/load.py): new and updated papers; the INSERT adds each new
                 vector to the HNSW index (it exists), no index is rebuilt
    embeddings   papers still without a vector are embedded (etl/embed.py), the index takes them in too
    index        the HNSW index exists and is valid (only a dropped or broken one is built again)
    neighbours   the lists of the new papers, and the reverse update of older lists that a new paper enters
                 (etl/neighbors.py); skipped while no lists exist (`atlas build` makes the first ones)
    maps         every map: new papers placed among their neighbours (old points keep their coordinates
                 byte for byte), levels assigned again, only the tiles whose points changed rewritten, and
                 the new papers counted into their topics: only the topics that gained papers change
                 (etl/maps/place.py)

Growth statistics are not kept anywhere yet, so there is no step for them. The summary at the end gives
the papers new and updated, each step's seconds, and each map's tiles and topics touched; a map whose
share of placed papers passes ATLAS_MAP_REBUILD_SHARE says that a rebuild is due (`atlas maps build
--name N` rebuilds it while the old one keeps serving: one transaction swaps it in).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.connections import connect
from app.core.settings import Settings
from etl.load import LoadOptions, LoadSummary, load_sources
from etl.maps.place import PlaceSummary
from etl.neighbors import NeighborSummary


@dataclass
class UpdateStep:
    name: str
    seconds: float
    did: str


@dataclass
class UpdateSummary:
    load: LoadSummary | None = None
    steps: list[UpdateStep] = field(default_factory=list)
    neighbors: NeighborSummary | None = None
    maps: list[PlaceSummary] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    @property
    def rebuild_due(self) -> list[str]:
        return [m.name for m in self.maps if m.rebuild_due]

    def describe(self) -> str:
        load = self.load
        lines = [
            f"update: {load.loaded if load else 0} papers new, {load.updated if load else 0} updated "
            f"in {self.seconds:.1f} s"
        ]
        lines += [f"  {step.name:<11} {step.seconds:7.1f} s  {step.did}" for step in self.steps]
        if self.rebuild_due:
            names = ", ".join(self.rebuild_due)
            lines.append(f"rebuild due for {names}: `atlas maps build --name NAME` (the old map serves meanwhile)")
        return "\n".join(lines)


def update_from_sources(
    settings: Settings, options: LoadOptions, echo: Callable[[str], None] = print,
) -> UpdateSummary:
    """Load `options.sources` and carry the new papers through every derived table; see the module docstring."""
    summary = UpdateSummary()

    def step(name: str, action: Callable[[], str]) -> None:
        started = time.monotonic()
        did = action()
        summary.steps.append(UpdateStep(name, time.monotonic() - started, did))
        echo(f"{name:<11} {did} ({summary.steps[-1].seconds:.1f} s)")

    def load() -> str:
        summary.load = load_sources(settings, options)
        # where the load's time went (read + copy, merge, indexes, ...): the step line gives the total
        echo("            " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.load.timings.items()))
        return summary.load.describe().split(" (", 1)[0]

    step("load", load)
    step("embeddings", lambda: _embeddings(settings))
    step("index", lambda: _index(settings))
    step("neighbours", lambda: _neighbors(settings, summary))
    step("maps", lambda: _maps(settings, summary, echo))
    return summary


def _embeddings(settings: Settings) -> str:
    with connect(settings) as conn:
        missing = conn.execute("select count(*) from papers where embedding is null").fetchone()[0]
    if not missing:
        return "every paper has a vector"
    from etl.embed import embed_missing

    return str(embed_missing(settings, progress=False))


def _index(settings: Settings) -> str:
    from etl.build import ensure_hnsw_index

    did = ensure_hnsw_index(settings)
    return "HNSW index valid; new vectors went in with their rows" if did == "up to date" else did


def _neighbors(settings: Settings, summary: UpdateSummary) -> str:
    with connect(settings) as conn:
        has_lists = conn.execute("select exists (select 1 from paper_neighbors)").fetchone()[0]
    if not has_lists:
        return "no neighbour lists yet (`atlas build` makes them)"
    from etl.neighbors import compute_neighbors

    found = summary.neighbors = compute_neighbors(settings, k=settings.neighbors_k)
    return f"lists of {found.papers} papers ({found.rows} rows), {found.refreshed} older lists took new papers in"


def _maps(settings: Settings, summary: UpdateSummary, echo: Callable[[str], None]) -> str:
    from etl.maps.place import place_papers

    summary.maps = place_papers(settings)
    if not summary.maps:
        return "no maps yet (`atlas build` makes them)"
    for placed in summary.maps:
        echo(f"            {placed.describe()}")
    total = sum(m.placed for m in summary.maps)
    tiles = sum(m.tiles_written for m in summary.maps)
    return f"{total} placements on {len(summary.maps)} maps, {tiles} tiles rewritten"
