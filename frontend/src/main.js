// The web map's composition root: reads the URL, builds the map (createAtlasMap) and hands it to the
// panels (ui/), each a module that subscribes to the state it shows and sets what it changes
// (docs/web-map.md, "Code structure"). Nothing here draws or renders; it only wires.

import "./styles.css";

import { api } from "./api.js";
import { createAtlasMap } from "./atlasMap.js";
import { installExplainFeatures } from "./explain/index.js";
import { PaperStore } from "./papers.js";
import { showStartPage } from "./startPage.js";
import { decodeTile } from "./tiles.js";
import { Controls } from "./ui/controls.js";
import { FiltersPanel, yearRangeOf } from "./ui/filtersPanel.js";
import { HoverCard } from "./ui/hoverCard.js";
import { TopicLabels } from "./ui/labels.js";
import { Panel, screenInsets } from "./ui/panel.js";
import { PaperPanel } from "./ui/paperPanel.js";
import { PlacePanel } from "./ui/placePanel.js";
import { Progress } from "./ui/progress.js";
import { SearchPanel } from "./ui/searchPanel.js";
import { SelectionPanel } from "./ui/selectionPanel.js";
import { SqlPanel } from "./ui/sqlPanel.js";
import { currentTheme, setupThemeToggles, themeColours } from "./ui/theme.js";
import { Tooltip } from "./ui/tooltip.js";
import { ViewsPanel } from "./ui/viewsPanel.js";
import { readUrlState, urlOfView } from "./urlState.js";
import { syncUrl } from "./urlSync.js";

const $ = (id) => document.getElementById(id);

/**
 * Open one map: the map, its panels, the state of the URL (or of a saved view) restored.
 * @param {import("./types.js").MapInfo} map
 * @param {{names: Map<string, string>, counts: Map<string, number>, topics: object[], restored?: object|null}} data
 *   restored: a saved view (GET /api/views/{id}) whose state replaces the URL's
 * @returns {Promise<import("./types.js").AtlasShell & {destroy: () => void}>}
 */
async function openMap(map, { names, counts, topics, restored = null }) {
  const url = readUrlState();
  if (restored) Object.assign(url, urlOfView(restored.state));
  $("atlas").hidden = false;
  $("map-title").textContent = `${map.title || map.name} · ${map.paper_count.toLocaleString("en")} papers`;
  document.title = `${map.title || map.name} · Arxiv Atlas`;
  // The overview tile first: it sets the year scale, and the view starts from it instead of asking again.
  const overview = await api.tile(map.name, 0, 0, 0)
    .then((buffer) => decodeTile(buffer, map.quadtree, 0, 0, 0, map.tile_record))
    .catch(() => null); // without it, the years span DEFAULT_FIRST_YEAR to this year
  const atlasMap = await createAtlasMap({ canvas: $("map"), map, theme: themeColours(currentTheme()), overview });
  const view = atlasMap.get("view");
  const progress = new Progress($("progress"));
  const labels = new TopicLabels($("labels"));
  labels.setTopics(topics);
  const panel = new Panel($("panel"), $("panel-body"), $("panel-close"));
  const layout = { panel: panel.node, legend: $("legend"), toolbar: document.querySelector(".toolbar") };
  view.camera.insets = () => screenInsets(layout, false);
  view.camera.focusInsets = () => screenInsets(layout, true);

  // The panels: each subscribes to the map and sets its layers and state.
  const filters = new FiltersPanel({ atlasMap, filters: url, names, counts, years: overview ? yearRangeOf(overview) : null });
  const status = (text) => filters.status(text);
  const papers = new PaperStore(map.name);
  const paper = new PaperPanel({ atlasMap, panel, papers, progress, status });
  const pin = (record) => paper.pin(record.arxiv_id, { fly: true });
  const hover = new HoverCard({ atlasMap, tooltip: new Tooltip($("tooltip")), papers, status });
  const search = new SearchPanel({ atlasMap, panel, progress, query: url, onChoose: pin });
  const sql = new SqlPanel({ atlasMap, panel, button: $("sql-button"), onPin: (arxivId) => paper.pin(arxivId, { fly: false }) });
  const selection = new SelectionPanel({
    atlasMap, panel, progress, papers, legend: filters.legend, sqlPanel: sql, status, onChoose: pin,
    highlightsAfter: () => search.highlights(),
  });
  const place = new PlacePanel({ atlasMap, panel, progress, onChoose: pin });
  const views = new ViewsPanel({ atlasMap, panel, button: $("share-button"), status });
  const modules = [hover, selection, search, paper, place, filters, sql, views]; // Esc clears in this order
  const controls = new Controls({
    atlasMap, isDialogOpen: () => place.isOpen(),
    onEscape: () => {
      for (const module of modules) module.escape?.();
      atlasMap.set("highlights", []);
      panel.close();
    },
  });
  const off = [
    syncUrl(atlasMap).destroy,
    atlasMap.subscribe("camera", () => labels.update(view.camera)),
    atlasMap.subscribe("progress", ({ pending, done }) => progress.set("tiles", pending, done)),
    atlasMap.subscribe("error", (error) => status(`A part of the map failed to load: ${error.message}`)),
  ];
  if (url.x !== null && url.y !== null) view.camera.go([url.x, url.y], url.zoom ?? 0);
  else view.camera.home();

  // The shell the explain features (issue 19, explain/) are installed on; tests see it as window.atlas.app.
  const shell = {
    atlasMap, view, map, progress, labels, legend: filters.legend, status, explain: null, sqlPanel: sql,
    pinArxivId: (arxivId, options) => paper.pin(arxivId, options),
    applyColoring: () => filters.applyColoring(),
    get search() { return search.search; },
    get pinned() { return paper.pinned; },
    get colorMode() { return filters.colorMode; },
    set colorMode(mode) { filters.setColorMode(mode); },
    destroy: () => {
      for (const module of [...modules, controls, panel]) module.destroy();
      for (const unsubscribe of off) unsubscribe();
      atlasMap.destroy();
    },
  };
  shell.explain = installExplainFeatures(shell); // explain panel, footprint, growth, trust
  filters.colorings.set("growth", () => {
    if (!shell.explain.growth.density) return false;
    shell.explain.growth.applyColoring();
    return true;
  });
  filters.colorings.set("trust", () => {
    shell.explain.trust.applyColoring();
    return true;
  });
  paper.decorate = (node, pinned) => shell.explain.decoratePinned(node, pinned);

  // What the URL (or the saved view) asks for.
  if (url.paper) paper.pin(url.paper, { fly: url.x === null });
  if (url.q) search.run({ restoring: true, frame: url.x === null });
  if ((await sql.available()) && url.sql) await sql.run(url.sql, { frame: url.x === null });
  if (restored) {
    if (restored.state.selection) selection.restore(restored.state.selection);
    views.showRestored(restored);
  }
  return shell;
}

/**
 * The map of this name (with a saved view's state), or the start page when there is none.
 * @param {string} name
 * @param {object|null} [restored]
 */
async function showMap(name, restored = null) {
  const maps = await api.maps();
  const map = maps.find((m) => m.name === name);
  if (!map) {
    $("start").hidden = false;
    const message = $("start-message");
    message.hidden = false;
    message.textContent = `There is no map named “${name}”. Choose one of these:`;
    await showStartPage();
    return null;
  }
  const [categories, topics] = await Promise.all([api.categories(), api.topics(name).catch(() => [])]);
  const names = new Map(categories.map((c) => [c.code, c.name]));
  const counts = new Map(categories.map((c) => [c.code, c.papers]));
  return openMap(map, { names, counts, topics, restored });
}

async function main() {
  let app = null;
  setupThemeToggles((theme) => app?.atlasMap.set("theme", themeColours(theme)));
  const { map, view } = readUrlState();
  const restored = view ? await api.view(view) : null;
  if (restored) app = await showMap(restored.state.map, restored);
  else if (map) app = await showMap(map);
  else await showStartPage();
  // The debug hook (docs/web-map.md): tests, benchmarks and the curious reach the running map as
  // window.atlas only when the page sets window.__ATLAS_DEBUG__ before it loads, or has ?debug=1.
  if (!globalThis.__ATLAS_DEBUG__ && !new URLSearchParams(window.location.search).has("debug")) {
    document.body.dataset.ready = "true";
    return;
  }
  window.atlas = {
    atlasMap: app?.atlasMap,
    app,
    view: app?.view,
    stats: app?.view.stats,
    pointsOnScreen: (limit) => app?.view.pointsOnScreen(limit) || [],
    explain: app?.explain,
    drawnPoints: () => app?.view.points.drawnCount() || 0,
    pendingTiles: () => app?.view.tiles.pending() || 0,
    labels: () => app?.labels.visible || [],
    go: (x, y, zoom) => app?.view.camera.go([x, y], zoom),
  };
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  document.body.dataset.ready = "error";
  const message = $("start-message");
  $("start").hidden = false;
  message.hidden = false;
  message.textContent = `The map could not start: ${error.message}`;
  console.error(error);
});
