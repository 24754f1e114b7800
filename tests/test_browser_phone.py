"""The web map on a phone (390x844, touch) in Debian's chromium: each bottom sheet (search results, a
pinned paper, the SQL panel) is opaque above the topic labels and the points, and what it talks about
is framed in the part of the map the sheet leaves free, not under it.

Framing is read from the camera: the screen box of the hits (the SQL layer, the pinned paper) is centred
in the band between the toolbar and the sheet, and nearly all of them lie in it. Opacity is then checked
with the middle of the map moved under the sheet, from pixels (decoded here, tests/browser.py): the
sheet's inside, its contents made invisible, must be its background colour and nothing else, where the
same pixels with the sheet hidden show points or labels. Labels are hit-tested (made hit-testable for
the test): at every label's centre under the sheet the browser must find the sheet. Screenshots go to
the test's tmp dir and test-artifacts/screenshots/ (phone-*.png; docs/images/ keeps three).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from browser import (
    DEBUG_HOOK,
    REPO,
    png_pixels,
    require_built_frontend,
    screenshot,
    serve,
    watch_for_errors,
)
from playwright.sync_api import Browser, Page

from app.core.roles import ensure_sql_runner_role
from app.core.settings import Settings

PHONE = {"width": 390, "height": 844}
SQL_PASSWORD = "sql-runner-phone-password-Qm41"
READY = "document.body.dataset.ready === 'true'"
SETTLED = "window.atlas && window.atlas.view && window.atlas.pendingTiles() === 0 && window.atlas.drawnPoints() > 0"
CS_CL = "select arxiv_id, title, published_year from analytics.papers where main_category = 'cs.CL' limit 150"
INSIDE = 16  # px kept away from the sheet's rounded corners, shadow and top edge


@pytest.fixture(scope="module")
def site(mapped_10k: Settings) -> Iterator[str]:
    settings = dataclasses.replace(mapped_10k, sql_password=SQL_PASSWORD, sql_enabled="on",
                                   frontend_dir=require_built_frontend(REPO / "frontend" / "dist"))
    with psycopg.connect(settings.database_url) as conn:
        ensure_sql_runner_role(conn, settings, SQL_PASSWORD)
    with serve(settings) as base:
        yield base


@pytest.fixture
def phone(browser: Browser, site: str) -> Iterator[Page]:
    """The map of every archive on a phone, drawn; JavaScript errors fail the test."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=1,
                                  bypass_csp=True)  # Playwright's waits are eval'd; the CSP is tested elsewhere
    context.add_init_script(DEBUG_HOOK)
    errors: list[str] = []
    page = context.new_page()
    watch_for_errors(page, errors)
    page.goto(site + "/?map=all")
    page.wait_for_function(READY, timeout=60_000)
    page.wait_for_function(SETTLED, timeout=60_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def settle(page: Page, timeout_s: float = 10.0) -> None:
    """Until the camera stops moving (a flight has ended) and the tiles of the view are drawn."""
    state = "() => [...window.atlas.view.camera.viewCentre(), window.atlas.view.camera.zoom()]"
    deadline = time.monotonic() + timeout_s
    last = page.evaluate(state)
    while True:
        page.wait_for_timeout(150)
        now = page.evaluate(state)
        if now == last:
            break
        assert time.monotonic() < deadline, "the camera kept moving"
        last = now
    page.wait_for_function(SETTLED, timeout=30_000)
    page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))")


def save(page: Page, tmp_path: Path, name: str) -> Path:
    """A screenshot in the test's tmp dir, copied to test-artifacts/screenshots/ to be looked at."""
    path = screenshot(page, name)
    shutil.copy(path, tmp_path / path.name)
    return tmp_path / path.name


def sheet_box(page: Page) -> dict:
    """The bottom sheet's box: the full width, down to the bottom of the screen."""
    box = page.locator("#panel").bounding_box()
    assert box["x"] == 0 and box["width"] == PHONE["width"], box
    assert abs(box["y"] + box["height"] - PHONE["height"]) < 1, box
    assert box["height"] > 200, box
    return box


def free_area(page: Page, sheet: dict) -> tuple[float, float]:
    """The band of the screen between the toolbar and the sheet: (top, bottom)."""
    toolbar = page.evaluate("""() => Math.max(...[...document.querySelectorAll('.toolbar > *')]
        .filter((e) => e.offsetParent !== null).map((e) => e.getBoundingClientRect().bottom))""")
    assert toolbar < sheet["y"] - 200, (toolbar, sheet)
    return toolbar, sheet["y"]


def colours_in(page: Page, box: tuple[int, int, int, int]) -> Counter:
    """How many pixels of each colour a screenshot has inside a box (left, top, right, bottom)."""
    left, top, right, bottom = box
    rows = png_pixels(page.screenshot(clip={"x": left, "y": top, "width": right - left, "height": bottom - top}))
    assert len(rows) == bottom - top and len(rows[0]) == right - left
    return Counter(pixel for row in rows for pixel in row)


def assert_sheet_is_opaque(page: Page, tmp_path: Path, name: str) -> int:
    """Nothing of the map shows through the sheet: pixels and labels. Returns the labels under the sheet."""
    sheet = sheet_box(page)
    inside = (INSIDE, int(sheet["y"]) + INSIDE, PHONE["width"] - INSIDE, PHONE["height"] - INSIDE)
    background = page.evaluate("""() => {
        const [r, g, b, a] = getComputedStyle(document.querySelector('#panel')).backgroundColor
          .match(/[\\d.]+/g).map(Number);
        return [r, g, b, a ?? 1];
    }""")
    assert background[3] == 1, f"the sheet's background is not opaque: {background}"
    # The map under the sheet: with the sheet hidden, those pixels hold points or labels.
    style = page.add_style_tag(content="#panel { visibility: hidden !important; }")
    under = colours_in(page, inside)
    style.evaluate("(node) => node.remove()")
    assert len(under) > 20, "nothing is drawn under the sheet: the test would prove nothing"
    # The sheet with its contents made invisible: only its background colour is left.
    style = page.add_style_tag(content="#panel > * { visibility: hidden !important; }")
    covered = colours_in(page, inside)
    style.evaluate("(node) => node.remove()")
    wanted = tuple(background[:3])
    others = {colour: n for colour, n in covered.items()
              if max(abs(c - w) for c, w in zip(colour, wanted, strict=True)) > 2}
    assert not others, f"{sum(others.values())} pixels inside the sheet are not its background {wanted}: {others}"
    # Labels: every label whose centre lies under the sheet is hit-tested there, and must hit the sheet.
    style = page.add_style_tag(content=".labels, .topic-label { pointer-events: auto !important; }")
    hits = page.evaluate("""(top) => [...document.querySelectorAll('.topic-label')].map((label) => {
        const r = label.getBoundingClientRect();
        const x = r.left + r.width / 2, y = r.top + r.height / 2;
        if (y < top || x < 0 || x > innerWidth || y > innerHeight) return null;
        const hit = document.elementFromPoint(x, y);
        return {label: label.textContent, onSheet: document.querySelector('#panel').contains(hit),
                hit: hit ? hit.className || hit.tagName : null};
    }).filter(Boolean)""", sheet["y"] + 2)
    style.evaluate("(node) => node.remove()")
    above = [h for h in hits if not h["onSheet"]]
    assert not above, f"labels show above the sheet: {above}"
    return len(hits)


def map_under_sheet(page: Page) -> None:
    """Put the middle of the map at the middle of the screen, under the sheet, so that points and
    labels lie under it (the view a sheet frames may have empty map below it)."""
    page.evaluate("""() => { const [x0, y0, x1, y1] = window.atlas.view.map.bounds;
                             window.atlas.go((x0 + x1) / 2, (y0 + y1) / 2, 1); }""")
    settle(page)


def assert_framed_in_free_area(page: Page, points: list[list[float]], sheet: dict) -> None:
    """The points' screen box is centred in the band the sheet leaves free, and most points are in it."""
    top, bottom = free_area(page, sheet)
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    assert top < cy < bottom, f"what the sheet talks about is centred at y={cy:.0f}, outside {top:.0f}..{bottom:.0f}"
    assert abs(cy - (top + bottom) / 2) < 0.1 * (bottom - top), (cy, top, bottom)
    assert abs(cx - PHONE["width"] / 2) < 0.1 * PHONE["width"], cx
    inside = sum(1 for x, y in points if top <= y <= bottom and 0 <= x <= PHONE["width"])
    assert inside >= 0.9 * len(points), f"only {inside} of {len(points)} are above the sheet"


def on_screen(page: Page, layer: str) -> list[list[float]]:
    return page.evaluate(f"""() => (window.atlas.atlasMap.get('{layer}') || [])
        .map((p) => window.atlas.view.camera.toScreen(p.x, p.y))""")


def search(page: Page, query: str) -> None:
    page.fill("#search-input", query)
    page.select_option("#search-mode", "semantic")
    page.set_checked("#search-rerank", False)
    page.press("#search-input", "Enter")  # the Search button is folded away on phones
    page.wait_for_selector(".results-list .paper-row", timeout=60_000)
    settle(page)


def test_the_search_sheet_is_opaque_and_its_hits_are_framed_above_it(phone: Page, tmp_path: Path) -> None:
    search(phone, "neural machine translation")
    sheet = sheet_box(phone)
    hits = on_screen(phone, "highlights")
    assert len(hits) > 20
    assert_framed_in_free_area(phone, hits, sheet)
    save(phone, tmp_path, "phone-search")
    map_under_sheet(phone)
    labels_under = assert_sheet_is_opaque(phone, tmp_path, "phone-search")
    assert labels_under > 0, "no label lies under the sheet: the label check proved nothing"
    save(phone, tmp_path, "phone-search-map-under")


def test_the_paper_sheet_is_opaque_and_the_paper_is_centred_above_it(phone: Page, tmp_path: Path) -> None:
    search(phone, "galaxy clusters")
    phone.locator(".results-list .paper-row").nth(2).tap()
    phone.wait_for_selector(".paper-abstract", timeout=30_000)
    phone.wait_for_function("window.atlas.app.pinned && window.atlas.app.pinned.neighbors !== null", timeout=30_000)
    settle(phone)
    sheet = sheet_box(phone)
    top, bottom = free_area(phone, sheet)
    x, y = phone.evaluate("() => { const v = window.atlas.view; return v.camera.toScreen(v.pinned.x, v.pinned.y); }")
    assert abs(x - PHONE["width"] / 2) < 2 and abs(y - (top + bottom) / 2) < 0.05 * (bottom - top), (x, y, top, bottom)
    save(phone, tmp_path, "phone-paper")
    map_under_sheet(phone)
    assert assert_sheet_is_opaque(phone, tmp_path, "phone-paper") > 0


def test_the_sql_sheet_is_opaque_and_its_layer_is_framed_above_it(phone: Page, tmp_path: Path) -> None:
    phone.wait_for_selector("#sql-button:not([hidden])", timeout=30_000)
    phone.locator("#sql-button").tap()
    phone.fill("#sql-input", CS_CL)
    phone.locator("#sql-run").tap()
    phone.wait_for_selector("#sql-status", timeout=30_000)
    settle(phone)
    assert phone.inner_text("#sql-status").startswith("150 rows")
    sheet = sheet_box(phone)
    assert_framed_in_free_area(phone, on_screen(phone, "sqlLayer"), sheet)
    save(phone, tmp_path, "phone-sql")
    map_under_sheet(phone)
    assert assert_sheet_is_opaque(phone, tmp_path, "phone-sql") > 0
