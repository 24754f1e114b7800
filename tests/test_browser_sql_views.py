"""The SQL layer and saved views in Debian's chromium (Playwright), on the real 10k sample and its maps.

Screenshots go to test-artifacts/screenshots/ (sql-*.png, view-*.png); look at them.
"""

from __future__ import annotations

import dataclasses
import io
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

from app.core.roles import ensure_sql_runner_role
from app.core.settings import Settings

DESKTOP = {"width": 1440, "height": 900}
SQL_PASSWORD = "sql-runner-browser-password-Jt82"
READY = "document.body.dataset.ready === 'true'"
SETTLED = "window.atlas && window.atlas.pendingTiles() === 0 && window.atlas.drawnPoints() > 0"
CS_CL = "select arxiv_id, title, published_year from analytics.papers where main_category = 'cs.CL' limit 150"
# Pixels of the SQL layer's colour (#00b8d4) in the map's canvas.
SQL_PIXELS_JS = CANVAS_PIXELS_JS.replace(
    "if (r > 220 && g > 40 && g < 90 && b < 40) ring += 1;", "if (r < 40 && g > 160 && g < 205 && b > 190) ring += 1;")


@pytest.fixture(scope="module")
def sql_site(mapped_10k: Settings) -> Iterator[tuple[str, Settings]]:
    settings = dataclasses.replace(mapped_10k, sql_password=SQL_PASSWORD, sql_enabled="on",
                                   frontend_dir=require_built_frontend(REPO / "frontend" / "dist"))
    with psycopg.connect(settings.database_url) as conn:
        ensure_sql_runner_role(conn, settings, SQL_PASSWORD)
    with serve(settings) as base:
        yield base, settings


@pytest.fixture
def open_page(browser: Browser, sql_site) -> Iterator:
    base, _ = sql_site
    contexts, errors = [], []

    def opener(path: str, viewport: dict = DESKTOP) -> Page:
        context = browser.new_context(viewport=viewport, accept_downloads=True, bypass_csp=True)  # eval'd waits
        context.add_init_script(DEBUG_HOOK)
        contexts.append(context)
        page = context.new_page()
        watch_for_errors(page, errors)  # JavaScript errors and CSP violations fail the test
        page.goto(base + path)
        page.wait_for_function(READY, timeout=60_000)
        page.wait_for_function(SETTLED, timeout=60_000)
        return page

    yield opener
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def settle(page: Page) -> None:
    page.wait_for_timeout(1200)  # the camera's flight to the layer
    page.wait_for_function(SETTLED, timeout=30_000)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def run_sql(page: Page, sql: str, expect: str = "#sql-status") -> None:
    if not page.is_visible("#sql-input"):
        page.click("#sql-button")
    page.fill("#sql-input", sql)
    page.click("#sql-run")
    page.wait_for_selector(expect, timeout=30_000)


def test_a_sql_query_draws_a_layer_with_its_table(open_page) -> None:
    page = open_page("/?map=all")
    run_sql(page, CS_CL)
    settle(page)
    assert page.inner_text("#sql-status").startswith("150 rows") and "150 on the map" in page.inner_text("#sql-status")
    assert page.evaluate("window.atlas.atlasMap.get('sqlLayer').length") == 150
    assert page.locator(".sql-table tbody tr").count() == 20 and page.locator(".sql-fly").count() == 20
    assert page.evaluate(SQL_PIXELS_JS)["ring"] > 300  # the cyan dots are on the canvas
    screenshot(page, "sql-layer")
    page.click(".page-next")
    assert page.inner_text(".pager span") == "page 2 of 8"
    page.locator(".sql-fly").first.click()
    page.wait_for_timeout(1200)
    assert page.evaluate("window.atlas.view.camera.zoom()") >= 2.9


def test_the_footprint_of_a_sql_layer_is_drawn_and_its_hottest_cell_holds_a_layer_paper(open_page) -> None:
    page = open_page("/?map=all")
    layer = ("select neighbor_arxiv_id as arxiv_id from analytics.paper_neighbors where arxiv_id = "
             "(select min(arxiv_id) from analytics.papers where main_category = 'cs.CL')")
    run_sql(page, layer)
    settle(page)
    page.click("#sql-footprint")
    page.wait_for_selector(".footprint-legend", timeout=60_000)
    settle(page)
    answer = page.evaluate("() => window.atlas.explain.footprint.answer")
    assert answer["query"]["sql"] == layer and answer["query"]["layer"]["papers"] == 10
    assert "the SQL layer's 10 papers" in page.inner_text(".footprint-legend")
    hottest = page.evaluate("() => window.atlas.explain.footprint.hottest()")
    layer_points = page.evaluate("window.atlas.atlasMap.get('sqlLayer')")
    assert any(hottest["x0"] <= p["x"] < hottest["x1"] and hottest["y0"] <= p["y"] < hottest["y1"]
               for p in layer_points)
    screenshot(page, "sql-layer-footprint")


def test_a_hostile_query_is_refused_inline(open_page, sql_site) -> None:
    _, settings = sql_site
    page = open_page("/?map=all")
    for sql, message in [("delete from analytics.papers", "cannot delete from view"),
                         ("select 1; drop view analytics.papers", "multiple commands"),
                         ("select pg_read_file('/etc/passwd')", "permission denied")]:
        run_sql(page, sql, expect=".sql-error")
        assert message in page.inner_text(".sql-error")
    screenshot(page, "sql-refused")
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("select count(*) from papers").fetchone()[0] > 9000
        assert conn.execute("select to_regclass('analytics.papers')").fetchone()[0] is not None


def test_the_sql_permalink_restores_layer_and_table(open_page) -> None:
    page = open_page("/?map=all")
    run_sql(page, CS_CL)
    settle(page)
    page.wait_for_timeout(400)  # the URL follows within 250 ms
    url = page.url
    assert parse_qs(urlparse(url).query)["sql"] == [CS_CL]
    again = open_page(url[url.index("/?"):])
    again.wait_for_selector("#sql-status", timeout=30_000)
    settle(again)
    assert again.input_value("#sql-input") == CS_CL
    assert again.evaluate("window.atlas.atlasMap.get('sqlLayer').length") == 150
    assert again.locator(".sql-table tbody tr").count() == 20


def share(page: Page) -> str:
    page.click("#share-button")
    page.wait_for_selector(".view-link", timeout=30_000)
    return page.get_attribute(".view-link", "data-view-id")


def test_a_view_id_restores_the_same_pixels(open_page) -> None:
    page = open_page("/?map=all")
    run_sql(page, CS_CL)
    settle(page)
    view_id = share(page)
    settle(page)
    original = page.evaluate(SQL_PIXELS_JS)
    screenshot(page, "view-saved")
    restored_page = open_page(f"/?view={view_id}")
    restored_page.wait_for_selector(".view-restored", timeout=30_000)
    settle(restored_page)
    restored = restored_page.evaluate(SQL_PIXELS_JS)
    screenshot(restored_page, "view-restored")
    assert original["ring"] > 300
    assert abs(original["ink"] - restored["ink"]) <= 0.02 * original["ink"]
    assert abs(original["ring"] - restored["ring"]) <= 0.02 * original["ring"]
    assert "Same corpus" in restored_page.inner_text(".view-restored")


def test_a_changed_corpus_is_noticed_and_re_run(open_page, sql_site) -> None:
    base, settings = sql_site
    saved = httpx.post(f"{base}/api/views", json={"map": "all", "sql": CS_CL}, timeout=30).json()
    with psycopg.connect(settings.database_url) as conn:  # as a load would: the snapshot moves on
        conn.execute("update corpus_snapshot set snapshot_id = snapshot_id + 1, changed_by = 'test'")
    page = open_page(f"/?view={saved['id']}")
    page.wait_for_selector(".view-changed", timeout=30_000)
    assert "corpus changed" in page.inner_text(".view-changed")
    page.click(".view-rerun")
    page.wait_for_selector(".view-diff-count", timeout=30_000)
    assert page.inner_text(".view-diff-count") == "150 papers now: 0 added, 0 gone."
    screenshot(page, "view-changed")


def test_parquet_export_carries_the_provenance(open_page) -> None:
    import pyarrow.parquet as pq

    page = open_page("/?map=all")
    run_sql(page, CS_CL)
    settle(page)
    view_id = share(page)
    with page.expect_download() as download_info:
        page.click(".view-saved .export-parquet")
    path = download_info.value.path()
    table = pq.read_table(io.BytesIO(open(path, "rb").read()))
    metadata = {k.decode(): v.decode() for k, v in table.schema.metadata.items() if k.startswith(b"atlas.")}
    assert table.num_rows == 150 and metadata["atlas.view"] == view_id and metadata["atlas.sql"] == CS_CL
    assert metadata["atlas.model"] and metadata["atlas.projection"] and metadata["atlas.snapshot"].isdigit()
