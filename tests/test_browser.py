"""The web map in a real browser: Debian's chromium (headless, software WebGL) driven by Playwright,
against the real API and database with the mapped 10k sample.

Drawing is checked on pixels read back from the map's WebGL canvas, not only on the DOM; every test
also fails on any uncaught JavaScript error. Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg
import pytest
from browser import (
    CANVAS_PIXELS_JS,
    DEBUG_HOOK,
    REPO,
    require_built_frontend,
    screenshot,
    serve,
    watch_for_errors,
)
from playwright.sync_api import Browser, Page

from app.core.settings import Settings

DESKTOP = {"width": 1280, "height": 800}
READY = "document.body.dataset.ready === 'true'"
SETTLED = "window.atlas && window.atlas.view && window.atlas.pendingTiles() === 0 && window.atlas.drawnPoints() > 0"


@pytest.fixture(scope="module")
def site(mapped_10k: Settings) -> Iterator[str]:
    dist = require_built_frontend(REPO / "frontend" / "dist")
    with serve(dataclasses.replace(mapped_10k, frontend_dir=dist)) as base:
        # Load the query-embedding model once, so that the first search in a test is not a model load.
        httpx.get(f"{base}/api/search", params={"q": "warm up", "mode": "semantic"}, timeout=120).raise_for_status()
        yield base


@pytest.fixture
def open_map(browser: Browser, site: str) -> Iterator:
    """Opens a page at a path and waits until the map has drawn its tiles; JS errors fail the test."""
    contexts = []
    errors: list[str] = []

    def opener(path: str = "/?map=all", viewport: dict = DESKTOP, settle: bool = True, **context_options) -> Page:
        # Playwright's waits compile their predicates with eval, which the page's CSP forbids; the policy
        # itself is tested without the bypass in test_the_web_map_runs_under_its_content_security_policy.
        context = browser.new_context(viewport=viewport, bypass_csp=True, **context_options)
        context.add_init_script(DEBUG_HOOK)  # window.atlas for the tests (docs/web-map.md)
        contexts.append(context)
        page = context.new_page()
        watch_for_errors(page, errors)  # JavaScript errors and CSP violations fail the test
        page.atlas_requests = []  # every URL the page asked for
        page.on("request", lambda request: page.atlas_requests.append(request.url))
        page.goto(site + path)
        page.wait_for_function(READY, timeout=30_000)
        if settle:
            wait_settled(page)
        return page

    yield opener
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def wait_settled(page: Page) -> None:
    page.wait_for_function(SETTLED, timeout=30_000)
    page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))")


def search(page: Page, query: str, mode: str, *, rerank: bool = False,
           expect: str = ".results-list .paper-row") -> None:
    """Types a query, picks a mode and the rerank toggle, submits, and waits for `expect`."""
    page.fill("#search-input", query)
    page.select_option("#search-mode", mode)
    page.set_checked("#search-rerank", rerank)
    page.click("#search button[type=submit]")
    page.wait_for_selector(expect, timeout=60_000)
    wait_camera_still(page)  # a search frames its hits with a camera flight (600 ms)


def wait_camera_still(page: Page, timeout_s: float = 10.0) -> None:
    """Until the camera's centre and zoom stop changing (a flight has ended)."""
    state = "() => [...window.atlas.view.camera.viewCentre(), window.atlas.view.camera.zoom()]"
    deadline = time.monotonic() + timeout_s
    last = page.evaluate(state)
    while time.monotonic() < deadline:
        page.wait_for_timeout(150)
        now = page.evaluate(state)
        if now == last:
            return
        last = now
    raise AssertionError("the camera kept moving")


def pixels(page: Page) -> dict:
    return page.evaluate(CANVAS_PIXELS_JS)


def clear_points(page: Page, count: int = 3000) -> list[dict]:
    """Points on screen away from the toolbar, legend and panel (desktop layout)."""
    points = page.evaluate(f"window.atlas.pointsOnScreen({count})")
    return [p for p in points if 330 < p["sx"] < 840 and 90 < p["sy"] < 760]


def rows(settings: Settings, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(query, params).fetchall()


# ---- start page and drawing ----------------------------------------------------------------------
def test_start_page_has_a_card_per_map_with_its_paper_count(open_map) -> None:
    page = open_map("/", settle=False)
    cards = page.locator(".map-card")
    assert cards.count() == 3
    assert "9,992 papers" in page.locator(".map-card[data-map=all]").inner_text()
    screenshot(page, "start-page")
    page.click(".map-card[data-map=math] a")
    page.wait_for_function(READY)
    wait_settled(page)
    assert "map=math" in page.url
    assert "Mathematics" in page.inner_text("#map-title")


def test_the_map_draws_its_points_in_category_colours(open_map, mapped_10k: Settings) -> None:
    page = open_map()
    drawn = page.evaluate("window.atlas.drawnPoints()")
    level = page.evaluate("window.atlas.view.camera.tileLevel()")
    on_levels = rows(mapped_10k, "select count(*) from map_points mp join maps m on m.id = mp.map_id "
                     "where m.name = 'all' and mp.level <= %s", (level,))[0][0]
    assert drawn == on_levels  # the whole map is in view: every point of levels 0..level
    seen = pixels(page)
    assert seen["ink"] > 15_000, seen  # thousands of dots, not an empty canvas
    assert seen["colours"] > 40, seen  # many category colours
    assert page.evaluate("window.atlas.labels().length") >= 5
    screenshot(page, "map-all")


def test_only_the_tiles_in_view_are_fetched_and_never_one_big_answer(open_map) -> None:
    page = open_map()
    requests = page.atlas_requests
    quadtree = page.evaluate("window.atlas.view.map.quadtree")
    max_level = page.evaluate("window.atlas.view.map.max_level")
    box = page.evaluate("window.atlas.view.camera.viewBox()")
    page.evaluate(f"window.atlas.go({(box[0] + box[2]) / 2}, {(box[1] + box[3]) / 2}, 5)")
    wait_settled(page)
    tiles = [tuple(map(int, m.groups())) for u in requests if (m := re.search(r"/tiles/(\d+)/(\d+)/(\d+)$", u))]
    assert tiles, requests
    assert not [u for u in requests if "/points" in u]
    assert len(tiles) == len(set(tiles))  # each tile fetched once
    assert max_level >= 2  # the fixture's maps have 2,048 points a tile, so several levels
    finest = [t for t in tiles if t[0] == max_level]
    assert finest and len(finest) < 4 ** max_level  # only the tiles in view, not the whole level
    view = page.evaluate("window.atlas.view.camera.viewBox(0.1)")
    cell = quadtree["extent"] / 2 ** max_level
    for _, tx, ty in finest:
        left, top = quadtree["origin_x"] + tx * cell, quadtree["origin_y"] + ty * cell
        assert left <= view[2] and left + cell >= view[0] and top <= view[3] and top + cell >= view[1]
    sizes = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/tiles/')).map(e => e.encodedBodySize)")
    assert sizes and max(sizes) <= 2048 * 13  # a tile holds at most tile_points records of 13 bytes
    other = page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.includes('/api/') "
                          "&& !e.name.includes('/tiles/')).map(e => [e.name, e.encodedBodySize])")
    assert all(size < 200_000 for _, size in other), other  # maps, topics, categories: no list of points


def test_topic_labels_never_overlap_and_get_finer_when_zooming_in(open_map) -> None:
    page = open_map()

    def label_boxes() -> list[tuple[str, dict]]:
        labels = page.locator(".topic-label")
        return [(labels.nth(i).inner_text(), labels.nth(i).bounding_box()) for i in range(labels.count())]

    far = label_boxes()
    assert len(far) >= 5
    for i, (_, a) in enumerate(far):
        for _, b in far[i + 1:]:
            overlap = a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
                a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]
            assert not overlap, (a, b)
    centre = page.evaluate("window.atlas.view.camera.viewCentre()")
    page.evaluate(f"window.atlas.go({centre[0]}, {centre[1]}, 3)")
    wait_settled(page)
    near = {text for text, _ in label_boxes()}
    assert near and near != {text for text, _ in far}
    screenshot(page, "labels-zoomed")


def test_drag_pans_and_the_wheel_zooms_about_the_cursor(open_map) -> None:
    page = open_map()
    cursor = (700, 420)
    under = page.evaluate(f"window.atlas.view.camera.toMap({cursor[0]}, {cursor[1]})")
    zoom = page.evaluate("window.atlas.view.camera.zoom()")
    page.mouse.move(*cursor)
    for _ in range(5):
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(30)
    page.wait_for_timeout(200)
    assert page.evaluate("window.atlas.view.camera.zoom()") > zoom + 0.5
    still = page.evaluate(f"window.atlas.view.camera.toScreen({under[0]}, {under[1]})")
    assert abs(still[0] - cursor[0]) < 1 and abs(still[1] - cursor[1]) < 1  # the point under the cursor stays
    centre = page.evaluate("window.atlas.view.camera.viewCentre()")
    page.mouse.move(*cursor)
    page.mouse.down()
    page.mouse.move(cursor[0] - 200, cursor[1] - 100, steps=10)
    page.mouse.up()
    moved = page.evaluate(f"window.atlas.view.camera.toScreen({centre[0]}, {centre[1]})")
    assert abs(moved[0] - (640 - 200)) < 2 and abs(moved[1] - (400 - 100)) < 2
    before = page.evaluate("window.atlas.view.camera.zoom()")
    page.click("#zoom-in")
    page.wait_for_timeout(500)  # a 300 ms transition
    assert abs(page.evaluate("window.atlas.view.camera.zoom()") - (before + 1)) < 0.01
    page.click("#zoom-home")
    page.wait_for_timeout(800)
    assert abs(page.evaluate("window.atlas.view.camera.zoom()")) < 0.01


# ---- hover and pin -------------------------------------------------------------------------------
def test_hover_shows_the_tooltip_and_lines_to_ten_neighbours(open_map, mapped_10k: Settings) -> None:
    page = open_map()
    before = pixels(page)["ink"]
    point = clear_points(page)[40]
    page.mouse.move(point["sx"], point["sy"])
    page.wait_for_selector("#tooltip:not([hidden])", timeout=10_000)
    page.wait_for_function("window.atlas.view.neighborLines !== null", timeout=10_000)
    title, authors, published, category, journal = rows(
        mapped_10k, "select p.title, p.authors, p.published, c.name, p.journal_ref from papers p "
        "join arxiv_categories c on c.code = p.main_category where p.id = %s", (point["key"],))[0]
    tooltip = page.inner_text("#tooltip")
    assert authors[0] in tooltip and category in tooltip and str(published.year) in tooltip
    if "$" not in title:
        assert " ".join(title.split())[:40] in " ".join(tooltip.split())
    assert "null" not in tooltip
    lines = page.evaluate("window.atlas.view.neighborLines.to.length")
    assert lines == 10
    page.mouse.move(point["sx"] + 0.5, point["sy"])  # a frame after the lines arrived
    wait_settled(page)
    assert pixels(page)["ink"] > before  # the lines are drawn
    screenshot(page, "hover")


def test_click_pins_a_paper_with_its_abstract_and_similar_papers_that_fly_the_camera(
        open_map, mapped_10k: Settings) -> None:
    page = open_map()
    point = clear_points(page)[25]
    page.mouse.click(point["sx"], point["sy"])
    page.wait_for_selector(".paper-abstract", timeout=10_000)
    page.wait_for_selector(".similar .paper-row", timeout=10_000)
    arxiv_id, abstract, doi = rows(mapped_10k, "select arxiv_id, abstract, doi from papers where id = %s",
                                   (point["key"],))[0]
    panel = page.inner_text("#panel")
    assert f"arXiv:{arxiv_id}" in panel
    if "$" not in abstract:
        assert " ".join(abstract.split())[:60] in " ".join(page.inner_text(".paper-abstract").split())
    if doi:
        assert doi in panel
    matches = page.locator(".similar .row-extra").all_inner_texts()
    assert len(matches) == 10 and all(re.fullmatch(r"\d+% match", m) for m in matches)
    assert [int(m.split("%")[0]) for m in matches] == sorted((int(m.split("%")[0]) for m in matches), reverse=True)
    page.wait_for_function(f"new URLSearchParams(location.search).get('paper') === '{arxiv_id}'")
    screenshot(page, "pinned")

    target = page.locator(".similar .paper-row").nth(3)
    target_id = target.get_attribute("data-arxiv-id")
    x, y = rows(mapped_10k, "select mp.x, mp.y from map_points mp join maps m on m.id = mp.map_id "
                "join papers p on p.id = mp.paper_id where m.name = 'all' and p.arxiv_id = %s", (target_id,))[0]
    target.click()
    page.wait_for_function(f"new URLSearchParams(location.search).get('paper') === '{target_id}'", timeout=10_000)
    page.wait_for_timeout(1200)  # the flight lasts 900 ms
    sx, sy = page.evaluate(f"window.atlas.view.camera.toScreen({x}, {y})")
    assert 300 < sx < 880 and 60 < sy < 800, (sx, sy)  # the chosen paper is now in the clear part of the view
    assert f"arXiv:{target_id}" in page.inner_text("#panel")


def test_latex_in_titles_is_rendered_by_katex(open_map, mapped_10k: Settings) -> None:
    arxiv_id = rows(mapped_10k, "select arxiv_id from papers where title ~ '\\$[^$]+\\$' order by id limit 1")[0][0]
    page = open_map(f"/?map=all&paper={arxiv_id}")
    page.wait_for_selector(".paper-title .katex", timeout=10_000)
    assert "$" not in page.inner_text(".paper-title")


# ---- search --------------------------------------------------------------------------------------
def test_semantic_search_lists_results_with_paging_and_highlights_them(open_map) -> None:
    page = open_map()
    assert pixels(page)["ring"] < 30
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search-input"
    page.keyboard.type("segmentation of medical images with deep networks")
    page.select_option("#search-mode", "semantic")
    page.keyboard.press("Enter")
    page.wait_for_selector(".results-list .paper-row", timeout=30_000)
    assert page.locator(".results-list .paper-row").count() == 10
    first_titles = page.locator(".results-list .row-title").all_inner_texts()
    assert any(re.search(r"segment|medical|image", t, re.I) for t in first_titles[:5]), first_titles
    highlights = page.evaluate("window.atlas.view.highlights.length")
    assert highlights >= 50
    page.locator("#panel-close").hover()  # the cursor off the map: no hover lines
    wait_settled(page)
    assert pixels(page)["ring"] > 200  # orange rings drawn on the map
    screenshot(page, "search-semantic")
    assert "page 1 of 10" in page.inner_text(".pager")
    page.click(".page-next")
    assert "page 2 of 10" in page.inner_text(".pager")
    assert page.locator(".results-list .row-title").all_inner_texts() != first_titles
    page.wait_for_function("new URLSearchParams(location.search).get('mode') === 'semantic'")
    query = parse_qs(urlparse(page.url).query)
    assert query["q"] == ["segmentation of medical images with deep networks"] and query["mode"] == ["semantic"]
    page.keyboard.press("Escape")
    assert page.locator("#panel").is_hidden()
    assert page.evaluate("window.atlas.view.highlights.length") == 0


def test_every_search_mode_answers_and_nothing_found_is_said(open_map) -> None:
    page = open_map()
    for mode, query in [("title", "minimization of automata"), ("author", "Andrei Paun"),
                        ("keyword", "automata minimization"), ("hybrid", "minimization of automata")]:
        search(page, query, mode)
        assert "Hopcroft" in page.locator(".results-list").inner_text(), mode
    search(page, "qqqxzzy wvvvkj", "title", expect=".nothing-found")
    assert "Nothing found" in page.inner_text(".nothing-found")


def test_vector_hits_show_at_once_and_the_reranked_order_replaces_them(open_map) -> None:
    page = open_map()
    assert page.is_checked("#search-rerank")  # reranking is on by default (RERANK_BY_DEFAULT)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/search" in r.url else None)
    # hold the reranked request back: the hits without reranking must show meanwhile
    held: list = []
    page.route("**/api/search?*rerank=true*", lambda route: held.append(route))
    search(page, "minimization of automata", "hybrid", rerank=True)
    page.wait_for_selector(".results-head .rerank-status.pending")
    assert "reranking" in page.inner_text(".results-head")
    first_rows = page.locator(".results-list .paper-row")
    assert first_rows.count() > 0 and page.locator(".results-list .row-extra").count() == 0  # no rerank scores yet
    for _ in range(50):  # let the held request reach the route
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    held[0].continue_()
    page.wait_for_selector(".results-head .rerank-status.reranked", timeout=60_000)
    assert "rerank" in page.locator(".results-list .row-extra").first.inner_text()
    assert [("rerank=false" in u, "rerank=true" in u) for u in asked] == [(True, False), (False, True)]
    page.unroute("**/api/search?*rerank=true*")


def test_choosing_a_result_flies_to_it_and_pins_it(open_map) -> None:
    page = open_map()
    search(page, "minimization of automata", "title")
    page.locator(".results-list .paper-row").first.click()
    page.wait_for_selector(".paper-abstract")
    page.wait_for_timeout(1200)
    assert page.evaluate("window.atlas.view.camera.zoom()") >= 2.9
    pinned = page.evaluate("window.atlas.view.pinned")
    sx, sy = page.evaluate(f"window.atlas.view.camera.toScreen({pinned['x']}, {pinned['y']})")
    assert 300 < sx < 880 and 60 < sy < 800
    assert page.locator(".panel-back").inner_text() == "← results"


# ---- filters and colour ---------------------------------------------------------------------------
def test_the_category_filter_changes_what_is_drawn(open_map) -> None:
    page = open_map()
    everything = pixels(page)
    page.click("#categories-none")
    wait_settled_or_empty(page)
    assert page.evaluate("window.atlas.drawnPoints()") == 0
    assert pixels(page)["ink"] < 200
    page.check("[data-archive=math] .archive-row input[type=checkbox]")
    wait_settled(page)
    math_only = pixels(page)
    drawn = page.evaluate("window.atlas.pointsOnScreen(100000)")
    categories = page.evaluate("window.atlas.view.map.categories")
    assert drawn and all(categories[p["category"] - 1].startswith("math.") for p in drawn)
    assert 1000 < math_only["ink"] < everything["ink"]
    page.wait_for_function("location.search.includes('cats=math.')")  # the URL is written 250 ms later
    screenshot(page, "filter-math")


def wait_settled_or_empty(page: Page) -> None:
    page.wait_for_function("window.atlas.pendingTiles() === 0")
    page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))")


def test_the_date_filter_asks_the_server_and_draws_only_those_months(open_map) -> None:
    page = open_map()
    everything = page.evaluate("window.atlas.drawnPoints()")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.fill("#date-from", "2015-01")
    page.dispatch_event("#date-from", "change")
    page.fill("#date-to", "2016-12")
    page.dispatch_event("#date-to", "change")
    wait_settled(page)
    filtered = [u for u in requests if "/points?" in u]
    assert filtered and all("from=2015-01-01" in u and "to=2016-12-31" in u for u in filtered[-1:])
    months = page.evaluate("window.atlas.pointsOnScreen(100000).map(p => p.month)")
    first, last = (2015 - 1970) * 12 + 1, (2016 - 1970) * 12 + 12
    assert months and all(first <= m <= last for m in months)
    assert len(months) < everything
    page.wait_for_function("location.search.includes('from=2015-01') && location.search.includes('to=2016-12')")
    screenshot(page, "filter-dates")
    page.click("#dates-clear")
    wait_settled(page)
    assert page.evaluate("window.atlas.drawnPoints()") == everything


def test_colour_by_year_recolours_the_points(open_map) -> None:
    page = open_map()
    by_category = pixels(page)
    page.check("input[name=color][value=year]")
    wait_settled(page)
    by_year = pixels(page)
    assert page.locator(".year-ramp").is_visible()
    assert by_year["colours"] != by_category["colours"]
    screenshot(page, "colour-year")


# ---- URL, selection, place, theme, mobile ----------------------------------------------------------
def test_a_url_restores_its_view(open_map) -> None:
    page = open_map()
    point = clear_points(page)[10]
    page.evaluate(f"window.atlas.go({point['x']}, {point['y']}, 2.5)")
    wait_settled(page)
    page.click("input[name=color][value=year]")
    page.click("[data-archive=cs] .archive-row input[type=checkbox]")  # hide cs
    search(page, "graph coloring", "keyword")
    wait_settled(page)
    target = clear_points(page)[0]
    page.mouse.click(target["sx"], target["sy"])
    page.wait_for_selector(".paper-abstract")
    page.wait_for_function("window.atlas.view.neighborLines !== null")
    page.mouse.move(60, 28)  # onto the toolbar: no paper hovered
    page.wait_for_timeout(400)  # the URL is written 250 ms after the last change
    wait_settled(page)
    url = page.url
    query = parse_qs(urlparse(url).query)
    assert {"map", "x", "y", "z", "paper", "q", "mode", "hide", "color"} <= set(query), query
    original = pixels(page)
    centre = page.evaluate("window.atlas.view.camera.viewCentre()")
    zoom = page.evaluate("window.atlas.view.camera.zoom()")  # the search framed its hits: not 2.5 any more
    screenshot(page, "url-original")

    restored = open_map("/?" + urlparse(url).query)
    restored.locator(".panel-back").wait_for()  # the pinned paper above its search results
    restored.wait_for_function("window.atlas.view.neighborLines !== null")
    restored.mouse.move(60, 28)
    wait_settled(restored)
    again = restored.evaluate("window.atlas.view.camera.viewCentre()")
    assert abs(again[0] - centre[0]) < 1e-3 and abs(again[1] - centre[1]) < 1e-3
    assert abs(restored.evaluate("window.atlas.view.camera.zoom()") - zoom) < 0.01
    assert restored.is_checked("input[name=color][value=year]")
    assert not restored.is_checked("[data-archive=cs] .archive-row input[type=checkbox]")
    assert restored.input_value("#search-input") == "graph coloring"
    assert restored.input_value("#search-mode") == "keyword"
    assert restored.evaluate("window.atlas.view.pinned") is not None
    assert query["paper"][0] in restored.inner_text("#panel")
    same = pixels(restored)
    assert abs(same["ink"] - original["ink"]) <= 0.02 * original["ink"], (same, original)
    screenshot(restored, "url-restored")


def test_lasso_selection_lists_papers_and_exports_csv_and_bibtex(open_map, mapped_10k: Settings) -> None:
    page = open_map()
    page.click("#select-button")
    x0, y0, x1, y1 = 420, 250, 760, 600
    page.mouse.move(x0, y0)
    page.mouse.down()
    for step in range(1, 21):  # a free-hand outline: the four sides of a box, point by point
        t = step / 20
        page.mouse.move(x0 + (x1 - x0) * min(1, 4 * t), y0 + (y1 - y0) * max(0, min(1, 4 * t - 1)))
    page.mouse.move(x0, y1, steps=5)
    page.mouse.move(x0, y0, steps=5)
    page.mouse.up()
    page.wait_for_selector(".selection h2", timeout=15_000)
    count = int(page.inner_text(".selection h2").split()[0].replace(",", ""))
    assert count > 50
    listed = page.locator(".selection-list .paper-row").count()
    assert listed == min(count, 200)
    screenshot(page, "selection")
    with page.expect_download() as download_info:
        page.click(".export-csv")
    text = open(download_info.value.path(), encoding="utf-8").read()
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == count
    assert {"arxiv_id", "title", "authors", "published", "doi"} <= set(table[0])
    ids = [r["arxiv_id"] for r in table]
    known = {r[0] for r in rows(mapped_10k, "select arxiv_id from papers where arxiv_id = any(%s)", (ids,))}
    assert known == set(ids)
    with page.expect_download() as download_info:
        page.click(".export-bibtex")
    bibtex = open(download_info.value.path(), encoding="utf-8").read()
    assert bibtex.count("\n@") + 1 == count and "archivePrefix = {arXiv}" in bibtex


def test_place_my_text_marks_where_it_sits_and_lists_its_nearest_papers(open_map, mapped_10k: Settings) -> None:
    arxiv_id, title, abstract = rows(
        mapped_10k, "select arxiv_id, title, abstract from papers where arxiv_id = '0705.1986'")[0]
    page = open_map()
    page.click("#place-button")
    page.fill("#place-text", f"{title}. {abstract}")
    page.click("#place-submit")
    page.wait_for_selector(".placed-list .paper-row", timeout=30_000)
    ids = [page.locator(".placed-list .paper-row").nth(i).get_attribute("data-arxiv-id") for i in range(3)]
    assert arxiv_id in ids  # its own text sits next to the paper itself
    placed = page.evaluate("window.atlas.view.placed")
    own = rows(mapped_10k, "select mp.x, mp.y from map_points mp join maps m on m.id = mp.map_id join papers p "
               "on p.id = mp.paper_id where m.name = 'all' and p.arxiv_id = %s", (arxiv_id,))[0]
    spread = page.evaluate("window.atlas.view.map.quadtree.extent")
    assert abs(placed["x"] - own[0]) < 0.1 * spread and abs(placed["y"] - own[1]) < 0.1 * spread
    page.wait_for_timeout(1000)
    screenshot(page, "placed")


def test_dark_theme_changes_the_map_background(open_map) -> None:
    page = open_map()
    light = pixels(page)["corner"]
    page.locator("header.toolbar [data-theme-toggle]").click()
    wait_settled(page)
    dark = pixels(page)["corner"]
    assert sum(light) > 600 and sum(dark) < 100, (light, dark)
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    screenshot(page, "dark")


def test_loading_progress_is_visible_while_tiles_load(open_map, browser: Browser, site: str) -> None:
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.add_init_script(DEBUG_HOOK)  # window.atlas, for SETTLED
    try:
        page = context.new_page()

        def slow(route) -> None:
            time.sleep(0.4)
            route.continue_()

        page.route("**/api/maps/*/tiles/**", slow)
        page.goto(site + "/?map=all")
        page.wait_for_selector("#progress:not([hidden])", timeout=10_000)
        assert "Loading" in page.inner_text("#progress")
        page.wait_for_function(SETTLED, timeout=30_000)
        page.wait_for_selector("#progress", state="hidden", timeout=10_000)
    finally:
        context.close()


def test_mobile_layout_pins_on_tap(open_map) -> None:
    page = open_map(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    assert page.locator("#legend").is_hidden()
    assert page.locator("#legend-button").is_visible()
    assert pixels(page)["ink"] > 5_000
    screenshot(page, "mobile")
    point = [p for p in page.evaluate("window.atlas.pointsOnScreen(5000)") if 150 < p["sy"] < 400][5]
    page.touchscreen.tap(point["sx"], point["sy"])
    page.wait_for_selector(".paper-abstract", timeout=10_000)
    assert page.locator("#tooltip").is_hidden()  # no hover on touch screens
    box = page.locator("#panel").bounding_box()
    assert box["width"] == 390 and abs(box["y"] + box["height"] - 844) < 1  # a bottom sheet
    screenshot(page, "mobile-pinned")
    page.click("#legend-button")
    assert page.locator("#legend").is_visible()
    screenshot(page, "mobile-legend")
    page.click("#legend-button")


def test_touch_pinch_zooms_the_map(open_map) -> None:
    page = open_map(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    zoom = page.evaluate("window.atlas.view.camera.zoom()")
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, spread: float) -> None:
        points = [{"x": 195 - spread, "y": 450, "id": 1}, {"x": 195 + spread, "y": 450, "id": 2}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points if kind != "touchEnd" else []})

    touch("touchStart", 30)
    for spread in range(35, 150, 10):
        touch("touchMove", spread)
    touch("touchEnd", 150)
    page.wait_for_timeout(200)
    assert page.evaluate("window.atlas.view.camera.zoom()") > zoom + 1.5  # fingers 5x apart: about log2(5)


def test_destroy_leaves_no_listener_behind(open_map) -> None:
    """The map and its panels destroy(): the canvas goes, and neither the map's events nor the panels'
    DOM listeners act any more (no request, no panel, no camera move, no JavaScript error)."""
    page = open_map()
    page.evaluate("window.atlas.app.destroy()")
    page.wait_for_timeout(300)
    asked = len(page.atlas_requests)
    assert page.locator("#map canvas").count() == 0
    page.fill("#search-input", "random matrices")
    page.evaluate("document.querySelector('#search').dispatchEvent(new Event('submit', {cancelable: true}))")
    for button in ("#share-button", "#select-button", "#zoom-in", "#categories-none"):
        page.click(button)
    page.focus("body")
    page.keyboard.press("/")
    page.mouse.move(640, 400)
    page.mouse.down()
    page.mouse.move(700, 450)
    page.mouse.up()
    page.wait_for_timeout(1000)
    assert page.locator("#panel").is_hidden()
    assert page.get_attribute("#select-button", "aria-pressed") == "false"
    assert page.evaluate("document.activeElement.id") != "search-input"
    assert [url for url in page.atlas_requests[asked:] if "/api/" in url] == []


def test_the_web_map_runs_under_its_content_security_policy(browser: Browser, site: str) -> None:
    """No bypass here: the page draws its tiles and answers a search under its own policy, and logs no violation."""
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(DEBUG_HOOK)
    errors: list[str] = []
    try:
        page = context.new_page()
        watch_for_errors(page, errors)
        response = page.goto(site + "/?map=all")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-eval" not in policy
        deadline = time.monotonic() + 60
        while not page.evaluate(f"() => Boolean({SETTLED})"):  # evaluate runs outside the page's CSP
            assert time.monotonic() < deadline, "the map did not draw under its CSP"
            time.sleep(0.2)
        page.fill("#search-input", "random matrices")
        page.select_option("#search-mode", "hybrid")
        page.click("#search button[type=submit]")
        deadline = time.monotonic() + 60
        while not page.evaluate("() => document.querySelectorAll('.results-list .paper-row').length > 0"):
            assert time.monotonic() < deadline, "no search results under the CSP"
            time.sleep(0.2)
        screenshot(page, "csp-desktop")
    finally:
        context.close()
    assert not errors, errors
