"""The web map in a real browser at 100k and 1.2M points: time to the first drawn frame, frame
times while panning, and the frame rate of the growth colouring's month slider, side by side in one run.

    .venv/bin/python bench/browser.py [--sizes 100000,1200000] [--runs 3]
    .venv/bin/python bench/browser.py --sizes 100000 --slider-only   # the slider's frame rate alone

The maps are synthetic but shaped like a real one: the 10k sample's vectors are projected by UMAP
(the product's `project`), then N points are drawn around those positions (each a copy of a random
real point, moved by a Gaussian whose spread is the distance to that point's 5th nearest neighbour),
keeping the real point's category and month. Levels and tiles are made by the product's own
`assign_levels` and `encode_tiles` (ATLAS_TILE_POINTS a tile) into a scratch database; the map is then
served by the real API and opened in Debian's chromium (headless, software WebGL: SwiftShader on the
CPU, so frame times are those of a machine without a GPU).

Measured per size:
- first frame: from navigation start to the first frame with points drawn (the page's own
  performance mark), and until every overview tile is drawn, median of --runs cold loads;
- panning: a real mouse drag (60 steps) across the overview and again zoomed in 3 levels; the
  frame time is the page's render call plus gl.finish() (the rasteriser's work), p50/p95;
- points drawn per frame, and the JS heap;
- the growth slider (issue 19: >= 30 frames a second at 100k): the month slider driven month by month
  from its first to its last position, one `input` event per frame as a drag gives them, at the overview
  and zoomed in 2 levels, then each case again, traced (how busy the browser's GPU process was: without
  a GPU it draws in software); frames per second from the requestAnimationFrame timestamps (each step
  recolours every loaded point and draws, gl.finish() included). The month density it reads is written
  by the product's `write_month_density`. A frame rate is a throughput: other work on the machine only
  lowers it, so this section is written with the load average it ran under (`--slider-only` writes it
  alone, without the latency section that needs a quiet machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from browser import CHROMIUM, CHROMIUM_ARGS, REPO, require_built_frontend, serve  # noqa: E402

from bench.report import load_average_text, table, write_section  # noqa: E402
from bench.scratch_db import scratch_database  # noqa: E402
from etl.maps.growth import write_month_density  # noqa: E402
from etl.maps.levels import Quadtree, assign_levels, point_priority  # noqa: E402
from etl.maps.projection import ProjectionParams, project  # noqa: E402
from etl.maps.tiles import encode_tiles, month_codes  # noqa: E402

SEED = 7


def source_layout(settings) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """The real 10k sample projected by UMAP: (n, 2) coordinates, category per point, month codes."""
    import gzip

    data = settings.shared_data_dir
    vectors = np.load(data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy").astype(np.float32)
    categories, months = [], []
    with gzip.open(data / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            categories.append(record["primary_category"])
            year, month = (int(p) for p in record["created"][:7].split("-"))
            months.append((year - 1970) * 12 + (month - 1))
    started = time.monotonic()
    coords, _ = project(vectors, ProjectionParams(n_epochs=200, seed=SEED))
    print(f"UMAP of the 10k sample: {time.monotonic() - started:.0f} s")
    return coords, np.array(categories), month_codes(np.array(months, dtype=np.float64)), vectors


def synthetic_map(coords: np.ndarray, categories: np.ndarray, months: np.ndarray, n: int):
    rng = np.random.default_rng(SEED + n)
    tree = cKDTree(coords)
    spread = tree.query(coords, k=6)[0][:, 5]
    pick = rng.integers(0, len(coords), size=n)
    xy = coords[pick] + rng.normal(size=(n, 2)) * spread[pick, None] * 0.5
    return xy[:, 0].astype(np.float32), xy[:, 1].astype(np.float32), categories[pick], months[pick]


def write_map(settings, name: str, x, y, categories, months) -> dict:
    started = time.monotonic()
    names = sorted(set(categories.tolist()))
    codes = (np.searchsorted(np.array(names), categories) + 1).astype(np.uint16)
    ids = np.arange(1, len(x) + 1, dtype=np.int64)
    quadtree = Quadtree.around(x, y)
    priority = point_priority(ids, SEED)
    levels = assign_levels(quadtree, x, y, priority, settings.tile_points)
    tiles = 0
    with psycopg.connect(settings.database_url) as conn:
        map_id = conn.execute(
            "insert into maps (name, title, paper_count, projection, x_min, y_min, x_max, y_max, origin_x, "
            "origin_y, extent, tile_points, max_level, categories, built_at, tiles_built_at) values "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), now()) returning id",
            (name, f"Synthetic {len(x):,} points", len(x), json.dumps({"method": "synthetic"}),
             float(x.min()), float(y.min()), float(x.max()), float(y.max()), quadtree.origin_x,
             quadtree.origin_y, quadtree.extent, settings.tile_points, int(levels.max()), names),
        ).fetchone()[0]
        with conn.cursor().copy("copy map_tiles (map_id, z, x, y, points, data) from stdin") as copy:
            for tile in encode_tiles(quadtree, x, y, levels, priority, ids, codes, months):
                copy.write_row((map_id, tile.z, tile.x, tile.y, tile.points, tile.data))
                tiles += 1
        # the growth colouring's month density, from the month codes (0 = unknown)
        write_month_density(conn, map_id, quadtree, x, y, np.where(months > 0, months.astype(np.float64) - 1, np.nan))
    seconds = time.monotonic() - started
    print(f"{name}: {len(x):,} points, {tiles} tiles, levels 0-{int(levels.max())}, written in {seconds:.1f} s")
    return {"tiles": tiles, "max_level": int(levels.max())}


FIRST_FRAME_JS = """
() => {
  const mark = performance.getEntriesByName('atlas-first-points-frame')[0];
  return {first: mark ? mark.startTime : null, now: performance.now(), drawn: window.atlas.drawnPoints(),
          heap: performance.memory ? performance.memory.usedJSHeapSize : null};
}
"""


def measure(browser, base: str, name: str, runs: int) -> dict:
    firsts, settled, drawn, heap = [], [], [], []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{base}/?map={name}&debug=1")
        page.wait_for_function("window.atlas && window.atlas.view && window.atlas.pendingTiles() === 0 "
                               "&& window.atlas.stats.firstPointsFrameMs !== null", timeout=120_000, polling=20)
        result = page.evaluate(FIRST_FRAME_JS)
        firsts.append(result["first"])
        settled.append(result["now"])
        drawn.append(result["drawn"])
        heap.append(result["heap"])
        context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base}/?map={name}&debug=1")
    page.wait_for_function("window.atlas && window.atlas.view && window.atlas.pendingTiles() === 0 "
                           "&& window.atlas.drawnPoints() > 0", timeout=120_000)
    pans = {}
    for label, zoom in [("overview", 0), ("zoomed in 3 levels", 3)]:
        centre = page.evaluate("window.atlas.view.camera.centre")
        page.evaluate(f"window.atlas.go({centre[0]}, {centre[1]}, {zoom})")
        page.wait_for_function("window.atlas.pendingTiles() === 0", timeout=120_000)
        page.evaluate("() => { const v = window.atlas.view; v.measureFrames = true; v.stats.frameTimes = []; }")
        page.mouse.move(760, 400)
        page.mouse.down()
        for step in range(60):
            page.mouse.move(760 - 5 * step, 400 - 2 * step)
            page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => resolve()))")
        page.mouse.up()
        frames = page.evaluate("window.atlas.view.stats.frameTimes")
        points = page.evaluate("window.atlas.drawnPoints()")
        page.evaluate("() => { window.atlas.view.measureFrames = false; }")
        pans[label] = {"p50": statistics.median(frames), "p95": float(np.percentile(frames, 95)),
                       "frames": len(frames), "points": points}
    context.close()
    return {"first": statistics.median(firsts), "settled": statistics.median(settled), "drawn": drawn[-1],
            "heap_mb": (statistics.median(heap) / 2**20) if heap[0] else None, "pans": pans}


# Drive the growth slider from its first month to its last, one input event per animation frame, and
# time the frames by their requestAnimationFrame timestamps.
SLIDER_JS = """
async () => {
  const slider = document.querySelector('#growth-month');
  const view = window.atlas.view;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await frame();
  view.measureFrames = true;
  view.stats.frameTimes = [];
  const stamps = [];
  const handlers = [];
  for (let month = Number(slider.min); month <= Number(slider.max); month += 1) {
    slider.value = String(month);
    const started = performance.now();
    slider.dispatchEvent(new Event('input'));  // the growth of every tile, and every loaded point recoloured
    handlers.push(performance.now() - started);
    stamps.push(await frame());
  }
  handlers.sort((a, b) => a - b);
  // the control: as many frames that only redraw the same points (no slider, no recolour)
  const plain = [];
  for (let i = 0; i < stamps.length; i += 1) {
    view.invalidate();
    plain.push(await frame());
  }
  view.measureFrames = false;
  const gaps = stamps.slice(1).map((t, i) => t - stamps[i]).sort((a, b) => a - b);
  return {steps: stamps.length, seconds: (stamps.at(-1) - stamps[0]) / 1000, rendered: view.stats.frameTimes.length,
          render_p50: view.stats.frameTimes.sort((a, b) => a - b)[Math.floor(view.stats.frameTimes.length / 2)],
          gap_p50: gaps[Math.floor(gaps.length / 2)], gap_p95: gaps[Math.floor(gaps.length * 0.95)],
          recolour_p50: handlers[Math.floor(handlers.length / 2)], points: window.atlas.drawnPoints(),
          redraw_fps: (plain.length - 1) * 1000 / (plain.at(-1) - plain[0])};
}
"""


def gpu_main_thread(trace: bytes, seconds: float) -> dict:
    """From a chromium trace: how busy the GPU process's main thread was, and its SwapBuffers calls.

    With software WebGL that thread runs SwiftShader: it executes the page's draw calls and presents each
    frame. Busy = the sum of its top-level tasks over the traced wall time `seconds`.
    """
    events = json.loads(trace)
    events = events["traceEvents"] if isinstance(events, dict) else events
    gpu = {e["pid"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"
           and e["args"].get("name") == "GPU Process"}
    main = {(e["pid"], e["tid"]) for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"
            and e["pid"] in gpu and e["args"].get("name") == "CrGpuMain"}
    on_main = [e for e in events if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in main and "dur" in e]
    busy = sum(e["dur"] for e in on_main if e["name"] == "ThreadControllerImpl::RunTask") / 1e6
    swaps = sorted(e["dur"] / 1000 for e in on_main if e["name"] == "SkiaOutputSurfaceImplOnGpu::SwapBuffers")
    return {"gpu_busy": busy / seconds if seconds else float("nan"),
            "swap_share": sum(swaps) / 1000 / busy if busy else float("nan"),
            "swap_p50": statistics.median(swaps) if swaps else float("nan"), "swaps": len(swaps)}


def measure_slider(browser, base: str, name: str) -> dict:
    """Frames per second of the growth slider at the overview and zoomed in 2 levels, each run traced."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base}/?map={name}&debug=1")
    page.wait_for_function("window.atlas && window.atlas.view && window.atlas.pendingTiles() === 0 "
                           "&& window.atlas.drawnPoints() > 0", timeout=120_000)
    page.check("input[name=color][value=growth]")
    page.wait_for_selector("#growth-month", timeout=60_000)
    out = {}
    for label, zoom in [("overview", 0), ("zoomed in 2 levels", 2)]:
        centre = page.evaluate("window.atlas.view.camera.centre")
        page.evaluate(f"window.atlas.go({centre[0]}, {centre[1]}, {zoom})")
        page.wait_for_function("window.atlas.pendingTiles() === 0", timeout=120_000)
        result = page.evaluate(SLIDER_JS)
        result["fps"] = (result["steps"] - 1) / result["seconds"]
        # the same steps again, traced (tracing slows the frames: the rates above come from the untraced run)
        browser.start_tracing(page=page, categories=["toplevel", "gpu", "viz"])
        started = time.monotonic()
        page.evaluate(SLIDER_JS)
        result.update(gpu_main_thread(browser.stop_tracing(), time.monotonic() - started))
        out[label] = result
    context.close()
    return out


def slider_text(result: dict) -> str:
    return (f"**{result['fps']:.0f}** frames/s, against {result['redraw_fps']:.0f} for plain redraws "
            f"({result['steps']} months in {result['seconds']:.1f} s; "
            f"{result['points']:,} points recoloured a frame; recolour p50 {result['recolour_p50']:.1f} ms, "
            f"render p50 {result['render_p50']:.1f} ms, frame gap p50 / p95 {result['gap_p50']:.0f} / "
            f"{result['gap_p95']:.0f} ms; traced again: the GPU process's main thread busy "
            f"{100 * result['gpu_busy']:.0f}% of the run, {100 * result['swap_share']:.0f}% of that in SwapBuffers, "
            f"p50 {result['swap_p50']:.1f} ms)")


def write_slider_section(sizes: list[int], sliders: dict, load_before: str, load_after: str) -> None:
    rows = [[f"{n:,}", slider_text(sliders[n]["overview"]), slider_text(sliders[n]["zoomed in 2 levels"])]
            for n in sizes]
    runs = [r for n in sizes for r in sliders[n].values()]
    worst = min(r["fps"] for r in runs)
    script = max(r["recolour_p50"] + r["render_p50"] for r in runs)
    redraws = sorted(r["redraw_fps"] for r in runs)
    busy = sorted(r["gpu_busy"] for r in runs)
    body = (
        "Headless Debian chromium, 1280x800, software WebGL (SwiftShader on the CPU: no GPU), the synthetic maps "
        "of the section above served by the real API; the growth colouring's month slider driven from its first "
        "month to its last, one `input` event per animation frame (what a drag gives), at the overview and "
        "zoomed in 2 levels. Each step recomputes the growth of every tile of level 4 and recolours every loaded "
        "point (no request), then draws; frames per second from the requestAnimationFrame timestamps. The "
        "control: as many frames that only redraw the same points, no slider and no recolour. "
        f"Load average {load_before} before, {load_after} after: the run shared the machine with other work "
        "when it is above 1, and a frame rate measured under load is a lower bound (the browser's own ceiling "
        "is the 60 Hz frame clock).\n\n"
        + table(["points", "slider, overview", "slider, zoomed in 2 levels"], rows)
        + f"\n\nThe goal of issue 19 is >= 30 frames a second on the 100k map; the slowest case here ran at "
        f"{worst:.0f}, and plain redraws of the same points {redraws[0]:.0f}-{redraws[-1]:.0f} in the same run. "
        "The page's own work per step (recolour "
        f"plus render call, p50) is at most {script:.1f} ms, far inside the 33 ms of a 30 frames/s budget. The "
        "browser's GPU process is what runs out of time: without a GPU its main thread executes the WebGL draw "
        "calls in software (SwiftShader) and presents each frame (SwapBuffers), and a chromium trace of each "
        f"case, run again, finds it busy {100 * busy[0]:.0f}-{100 * busy[-1]:.0f}% of the time. "
        "Plain redraws, with no slider work at all, pay the same. So the goal is not shown on this machine: it "
        "needs a GPU; here the slider runs at the rate of the browser's software redraws. The work per step is "
        "bounded by the points loaded for the view (the tiles in view at its zoom), not by the map's size."
    )
    print(body)
    write_section("Growth slider frame rate in the browser (bench/browser.py)", body, latencies=False)


def pan_text(pan: dict) -> str:
    return f"{pan['p50']:.1f} / {pan['p95']:.1f} ms ({pan['points']:,} points, {pan['frames']} frames)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1200000", help="points per synthetic map, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="cold loads per size for the first-frame time")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--slider-only", action="store_true",
                        help="measure only the growth slider's frame rate (its section notes the load average)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = load_average_text()
    from playwright.sync_api import sync_playwright

    dist = require_built_frontend(REPO / "frontend" / "dist")
    with scratch_database() as settings:
        coords, categories, months, _ = source_layout(settings)
        built = {}
        for n in sizes:
            x, y, cats, mon = synthetic_map(coords, categories, months, n)
            built[n] = write_map(settings, f"bench-{n}", x, y, cats, mon)
        with serve(dataclasses.replace(settings, frontend_dir=dist)) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            sliders = {n: measure_slider(browser, base, f"bench-{n}") for n in sizes}
            results = {} if args.slider_only else {n: measure(browser, base, f"bench-{n}", args.runs) for n in sizes}
            browser.close()
    load_after = load_average_text()
    if args.no_write:
        print(sliders)
    else:
        write_slider_section(sizes, sliders, load_before, load_after)
    if args.slider_only:
        return

    rows = []
    for n in sizes:
        r = results[n]
        rows.append([f"{n:,}", f"{built[n]['tiles']} (levels 0-{built[n]['max_level']})", f"{r['first']:.0f} ms",
                     f"{r['settled']:.0f} ms", f"{r['drawn']:,}",
                     pan_text(r["pans"]["overview"]), pan_text(r["pans"]["zoomed in 3 levels"]),
                     f"{r['heap_mb']:.0f} MB" if r["heap_mb"] else "n/a"])
    header = ["points", "tiles", "first frame with points", "overview drawn", "points drawn",
              "frame p50 / p95, panning the overview", "frame p50 / p95, panning zoomed in", "JS heap"]
    small, large = sizes[0], sizes[-1]
    ratio_first = results[large]["first"] / results[small]["first"]
    ratio_frame = results[large]["pans"]["overview"]["p50"] / results[small]["pans"]["overview"]["p50"]
    body = (
        f"Headless Debian chromium, 1280x800, software WebGL (SwiftShader on 2 CPU cores: no GPU), "
        f"served by the real API on loopback; {args.runs} cold loads per size. Tiles of "
        f"{settings.tile_points:,} points. Load average {load_before} before, {load_after} after "
        "(other work shared the machine when it is above 1).\n\n"
        + table(header, rows)
        + f"\n\n{large:,} against {small:,} points: first frame x{ratio_first:.2f}, overview frame time "
        f"x{ratio_frame:.2f}. The page draws only the tiles in view at its zoom, so the points per frame depend "
        "on the screen and the zoom, not on the map's size, and the first frame and frame times stay flat from "
        f"{small:,} to {large:,}. A frame here is the render call plus gl.finish() on SwiftShader (the CPU "
        "rasteriser); the p95 frames are those in which newly arrived tiles were uploaded. The 16 ms goal for "
        "1.2M points is for a machine with a GPU, which this one lacks; even without one the frames stay well "
        "under it."
    )
    print(body)
    if not args.no_write:
        write_section("Web map in the browser (bench/browser.py)", body)


if __name__ == "__main__":
    main()
