// The web map's controller: reads the URL, builds the view and wires the search box, legend,
// filters, panel, tooltip, lasso, "place my text", keyboard and theme to it.

import "./styles.css";

import { polygonContains } from "d3";

import { api } from "./api.js";
import { createAtlasMap } from "./atlasMap.js";
import { categoryPalette, yearScale } from "./colors.js";
import { HIDDEN, HOVER_DELAY_MS, NO_CATEGORY, PAGE_SIZE, PHONE_WIDTH, SEARCH_HITS, SELECTION_LIMIT } from "./constants.js";
import { installExplainFeatures } from "./explain/index.js";
import { element, percentMatch } from "./format.js";
import { showStartPage } from "./startPage.js";
import { decodePoints, decodeTile, monthField, monthToYear } from "./tiles.js";
import { Lasso } from "./ui/lasso.js";
import { TopicLabels } from "./ui/labels.js";
import { Legend } from "./ui/legend.js";
import { Panel, paperDetails, paperRow } from "./ui/panel.js";
import { Progress } from "./ui/progress.js";
import { SqlPanel, selectionSql } from "./ui/sqlPanel.js";
import { currentTheme, setupThemeToggles, themeColours } from "./ui/theme.js";
import { Tooltip } from "./ui/tooltip.js";
import { shareView, showRestoredView } from "./ui/viewsPanel.js";
import { monthEnd, monthStart, readUrlState, writeUrlState } from "./urlState.js";

const $ = (id) => document.getElementById(id);

class AtlasApp {
  constructor(map, { names, counts, topics, restored = null }) {
    this.map = map;
    this.restored = restored; // a saved view (GET /api/views/{id}) whose state replaces the URL's
    this.names = names;
    this.records = new Map(); // paper key -> short record (paper-keys)
    this.neighborCache = new Map(); // arxiv id -> neighbours on this map
    this.url = readUrlState();
    if (restored) Object.assign(this.url, urlOfView(restored.state));
    this.search = { q: this.url.q, mode: this.url.mode, rerank: this.url.rerank, hits: null, page: 0, error: null, took: 0 };
    this.pinned = null; // {paper, neighbors, x, y}
    this.selectMode = false;
    this.progress = new Progress($("progress"));
    this.tooltip = new Tooltip($("tooltip"));
    this.labels = new TopicLabels($("labels"));
    this.labels.setTopics(topics);
    this.palette = categoryPalette(map.categories);
    this.colorMode = this.url.color;
    this.years = null;
    this.legend = new Legend($("legend-body"), {
      categories: map.categories, names, palette: this.palette, counts, onChange: () => this.filtersChanged(),
    });
    this.legend.restore(this.url.only, this.url.hide);
    this.panel = new Panel($("panel"), $("panel-body"), $("panel-close"), () => this.closePanel());
    this.hoverTimer = null;
    this.hoverRequest = null;
  }

  async start() {
    $("atlas").hidden = false;
    $("map-title").textContent = `${this.map.title || this.map.name} · ${this.map.paper_count.toLocaleString("en")} papers`;
    document.title = `${this.map.title || this.map.name} · Arxiv Atlas`;
    // The overview tile first: it sets the year scale, and the view starts from it instead of asking again.
    const overview = await api.tile(this.map.name, 0, 0, 0)
      .then((buffer) => decodeTile(buffer, this.map.quadtree, 0, 0, 0, this.map.tile_record))
      .catch(() => null); // without it, the years span 1991 to this year
    if (overview) this.yearRangeOf(overview);
    this.atlasMap = await createAtlasMap({ canvas: $("map"), map: this.map, theme: themeColours(currentTheme()), overview });
    this.view = this.atlasMap.get("view");
    this.atlasMap.subscribe("camera", () => this.cameraChanged());
    this.atlasMap.subscribe("hover", ({ key, point, event }) => this.hover(key, point, event));
    this.atlasMap.subscribe("click", ({ key, point }) => (key ? this.pinKey(key, point) : null));
    this.atlasMap.subscribe("progress", ({ pending, done }) => this.progress.set("tiles", pending, done));
    this.atlasMap.subscribe("error", (error) => this.status(`A part of the map failed to load: ${error.message}`));
    this.sqlPanel = new SqlPanel({
      atlasMap: this.atlasMap, panel: this.panel, mapName: this.map.name, onChange: () => this.saveUrl(),
      onPin: (arxivId) => this.pinArxivId(arxivId, { fly: false }),
    });
    this.view.camera.insets = () => panelInsets(false);
    this.view.camera.focusInsets = () => panelInsets(true);
    this.applyColoring();
    this.restoreDates();
    if (this.url.x !== null && this.url.y !== null) this.view.camera.go([this.url.x, this.url.y], this.url.zoom ?? 0);
    else this.view.camera.home();
    this.legend.render();
    this.wireControls();
    this.explain = installExplainFeatures(this); // issue 19: explain panel, footprint, growth
    if (this.url.paper) this.pinArxivId(this.url.paper, { fly: this.url.x === null });
    if (this.search.q) this.runSearch({ restoring: true });
    const sqlOn = await this.sqlPanel.available();
    $("sql-button").hidden = !sqlOn;
    if (this.url.sql && sqlOn) await this.sqlPanel.run(this.url.sql, { frame: this.url.x === null });
    if (this.restored) {
      if (this.restored.state.selection) this.restoreSelection(this.restored.state.selection);
      showRestoredView(this.panel, this.restored);
    }
  }

  /** What the map shows, as POST /api/views wants it. */
  viewState() {
    const [x, y] = this.view.camera.viewCentre();
    const filters = { category: null, date_from: monthStart(this.dates?.from), date_to: monthEnd(this.dates?.to), color: this.colorMode };
    return {
      map: this.map.name,
      camera: { x, y, zoom: this.view.camera.zoom() },
      filters,
      query: this.search.q ? { text: this.search.q, mode: this.search.mode } : null,
      sql: this.sqlPanel.sql && this.sqlPanel.answer ? this.sqlPanel.sql : null,
      selection: this.panel.kind === "selection" && this.selection?.length ? this.selection.map((p) => p.key) : null,
    };
  }

  async share() {
    try {
      await shareView(this.panel, this.viewState());
    } catch (error) {
      this.status(`The view could not be saved: ${error.message}`);
    }
  }

  async restoreSelection(keys) {
    const records = await this.records_for(keys.slice(0, 200));
    this.selection = keys.map((key) => ({ key }));
    this.selectionTotal = keys.length;
    this.panel.open("selection", () => this.selectionView(records));
  }

  // ----- colour and filters -----

  applyColoring() {
    if (this.colorMode === "growth" && this.explain?.growth.density) return this.explain.growth.applyColoring();
    if (this.colorMode === "trust" && this.explain) return this.explain.trust.applyColoring();
    const palette = this.palette;
    const legend = this.legend;
    if (this.colorMode === "year") {
      const [first, last] = this.years || [1991, new Date().getFullYear()];
      const colourOfYear = yearScale(first, last);
      this.view.setColoring((category, month) => {
        if (!legend.isShown(category)) return HIDDEN;
        return month ? [...colourOfYear(monthToYear(month)), 255] : NO_CATEGORY;
      });
      this.legend.showYears([first, last]);
    } else {
      this.view.setColoring((category) => {
        if (!legend.isShown(category)) return HIDDEN;
        return category ? [...palette[category - 1], 255] : NO_CATEGORY;
      });
      this.legend.showYears(null);
    }
    for (const input of document.querySelectorAll("input[name=color]")) input.checked = input.value === this.colorMode;
  }

  /** The year colour scale's range, the same for every view of a map: from the overview tile (level 0,
   * a uniform sample of the whole map), its 1st percentile to its newest month. */
  yearRangeOf(overview) {
    const months = Array.from(overview.month).filter(Boolean).sort((a, b) => a - b);
    if (months.length) {
      this.years = [Math.floor(monthToYear(months[Math.floor(months.length * 0.01)])), Math.ceil(monthToYear(months.at(-1)))];
    }
  }

  filtersChanged() {
    this.applyColoring();
    this.saveUrl();
    this.updateStatus();
  }

  restoreDates() {
    $("date-from").value = this.url.from || "";
    $("date-to").value = this.url.to || "";
    this.datesChanged(false);
  }

  datesChanged(save = true) {
    const from = $("date-from").value || null;
    const to = $("date-to").value || null;
    if (from && to && monthField(from) > monthField(to)) {
      this.status("The start month is after the end month.");
      return;
    }
    this.dates = { from, to };
    this.view.setDateFilter({ from: monthStart(from), to: monthEnd(to) });
    if (save) {
      this.saveUrl();
      if (this.search.q) this.runSearch();
    }
    this.updateStatus();
  }

  updateStatus() {
    const parts = [];
    const shown = this.legend.selected.size;
    if (shown < this.map.categories.length) parts.push(`${shown} of ${this.map.categories.length} categories`);
    if (this.dates?.from || this.dates?.to) parts.push(`published ${this.dates.from || "…"} to ${this.dates.to || "…"}`);
    $("legend-status").textContent = parts.length ? `Showing ${parts.join(", ")}.` : "";
  }

  status(text) {
    $("legend-status").textContent = text;
  }

  // ----- camera, URL -----

  cameraChanged() {
    this.labels.update(this.view.camera);
    this.saveUrl();
  }

  saveUrl() {
    if (!this.view?.camera) return;
    const [x, y] = this.view.camera.viewCentre();
    writeUrlState({
      map: this.map.name, x, y, zoom: this.view.camera.zoom(),
      paper: this.pinned?.paper.arxiv_id || null,
      q: this.search.q, mode: this.search.mode, rerank: this.search.rerank,
      ...this.legend.urlLists(), color: this.colorMode, from: this.dates?.from, to: this.dates?.to,
      sql: this.sqlPanel?.sql && (this.sqlPanel.answer || this.sqlPanel.error) ? this.sqlPanel.sql : null,
    });
  }

  // ----- hover and pin -----

  async records_for(keys) {
    const missing = keys.filter((k) => !this.records.has(k));
    for (let i = 0; i < missing.length; i += 500) {
      const rows = await api.paperKeys(missing.slice(i, i + 500));
      for (const row of rows) this.records.set(row.key, row);
    }
    return keys.map((k) => this.records.get(k)).filter(Boolean);
  }

  hover(key, hit, event) {
    clearTimeout(this.hoverTimer);
    this.hoverKey = key;
    if (!key) {
      this.tooltip.hide();
      this.view.app.canvas.style.cursor = "";
      this.showNeighborsOfPinned();
      return;
    }
    this.view.app.canvas.style.cursor = "pointer";
    if (this.tooltip.key === key) return this.tooltip.move(event.clientX, event.clientY);
    const { clientX, clientY } = event;
    this.hoverTimer = setTimeout(async () => {
      try {
        const [record] = await this.records_for([key]);
        if (!record) return;
        if (this.hoverKey !== key) return;
        this.tooltip.show(record, clientX, clientY);
        const neighbors = await this.neighborsOf(record.arxiv_id);
        if (this.tooltip.key === key) this.view.setNeighborLines({ from: [hit.x, hit.y], to: onMap(neighbors) });
      } catch (error) {
        this.status(error.message);
      }
    }, HOVER_DELAY_MS);
  }

  async neighborsOf(arxivId) {
    if (!this.neighborCache.has(arxivId)) {
      this.neighborCache.set(arxivId, await api.neighbors(arxivId, this.map.name, 10));
    }
    return this.neighborCache.get(arxivId);
  }

  showNeighborsOfPinned() {
    if (this.pinned?.neighbors) {
      this.view.setNeighborLines({ from: [this.pinned.x, this.pinned.y], to: onMap(this.pinned.neighbors) });
    } else {
      this.view.setNeighborLines(null);
    }
  }

  async pinKey(key) {
    this.tooltip.hide();
    const [record] = await this.records_for([key]);
    if (record) await this.pinArxivId(record.arxiv_id, { fly: false });
  }

  /** Pin a paper: details in the panel, its neighbours linked; fly there when asked. */
  async pinArxivId(arxivId, { fly = true } = {}) {
    try {
      const paper = await this.progress.track("paper", api.paper(arxivId));
      const position = paper.maps.find((m) => m.map === this.map.name);
      this.pinned = { paper, neighbors: null, x: position?.x, y: position?.y };
      this.view.setPinned(position ? { x: position.x, y: position.y } : null);
      this.renderPinned();
      if (fly && position) this.view.camera.flyTo(position.x, position.y, Math.max(3, this.view.camera.zoom()));
      this.saveUrl();
      const neighbors = await this.neighborsOf(paper.arxiv_id);
      if (this.pinned?.paper.arxiv_id !== paper.arxiv_id) return;
      this.pinned.neighbors = neighbors;
      this.renderPinned();
      this.showNeighborsOfPinned();
    } catch (error) {
      this.status(`Paper ${arxivId}: ${error.message}`);
    }
  }

  renderPinned() {
    const pinned = this.pinned;
    const onChoose = (n) => this.pinArxivId(n.arxiv_id, { fly: true });
    const onHover = (n) => this.view.setFocus(n ? n.key : null);
    const details = () => paperDetails(pinned.paper, pinned.neighbors, { onChoose, onHover });
    this.panel.open("paper", () => (this.explain ? this.explain.decoratePinned(details(), pinned) : details()));
    if (!pinned.x && pinned.x !== 0) {
      this.panel.body.prepend(element("p", { class: "status", text: `This paper is not on the map ${this.map.name}.` }));
    }
  }

  unpin() {
    this.pinned = null;
    this.view.setPinned(null);
    this.view.setNeighborLines(null);
    this.panel.close("paper");
    this.saveUrl();
  }

  closePanel() {
    const kind = this.panel.kind;
    if (kind === "paper") return this.unpin();
    if (kind === "results") return this.clearSearch();
    if (kind === "sql") return this.sqlPanel.clear();
    if (kind === "selection") this.view.setHighlights(this.searchHighlights());
    if (kind === "placed") this.view.setPlaced(null);
    this.panel.close(kind);
  }

  // ----- search -----

  async runSearch({ restoring = false } = {}) {
    const search = this.search;
    search.page = 0;
    search.error = null;
    search.hits = null;
    $("search-input").value = search.q;
    $("search-mode").value = search.mode;
    $("search-rerank").checked = search.rerank;
    this.renderResults();
    const params = {
      q: search.q, mode: search.mode, rerank: search.rerank, top_n: SEARCH_HITS, top_k: Math.max(SEARCH_HITS, 100),
      map: this.map.name, from: monthStart(this.dates?.from), to: monthEnd(this.dates?.to),
    };
    const started = performance.now();
    const current = () => search === this.search && search.q === params.q;
    // First the hits without reranking (vector search answers in milliseconds), then, when asked,
    // the reranked order replaces them: the map never waits for the cross-encoder.
    search.reranked = search.rerank ? "pending" : null;
    search.notice = null;
    try {
      const answer = await this.progress.track("search", api.search({ ...params, rerank: false }));
      if (!current()) return;
      search.hits = answer.hits;
      search.took = answer.took_ms;
      search.notice = answer.semantic ? `semantic search ${answer.semantic}` : null;
    } catch (error) {
      search.error = error.message;
      search.hits = [];
      search.reranked = null;
    }
    search.roundTrip = performance.now() - started;
    this.view.setHighlights(this.searchHighlights());
    this.renderResults();
    // The hits, framed in the part of the map the results panel leaves free.
    if (!restoring || this.url.x === null) this.view.camera.frame(this.searchHighlights(), 600);
    if (!restoring) this.saveUrl();
    if (search.reranked === "pending" && search.hits.length) await this.rerankSearch(search, params, current);
    else if (search.reranked === "pending") search.reranked = null;
  }

  async rerankSearch(search, params, current) {
    try {
      const answer = await this.progress.track("rerank", api.search({ ...params, rerank: true }));
      if (!current()) return;
      search.hits = answer.hits;
      search.took = answer.took_ms;
      search.reranked = answer.rerank ? "done" : "failed";
      if (!answer.rerank) search.rerankError = "the server did not rerank";
    } catch (error) {
      if (!current()) return;
      search.reranked = "failed"; // the vector hits stay, and the list says why they are not reranked
      search.rerankError = error.message;
    }
    this.view.setHighlights(this.searchHighlights());
    this.renderResults();
  }

  rerankStatus() {
    const search = this.search;
    if (search.reranked === "pending") return element("span", { class: "rerank-status pending", text: " · reranking…" });
    if (search.reranked === "done") return element("span", { class: "rerank-status reranked", text: " · reranked" });
    if (search.reranked === "failed") {
      return element("span", { class: "rerank-status not-reranked", text: " · not reranked", title: search.rerankError || "" });
    }
    return null;
  }

  searchHighlights() {
    return (this.search.hits || []).filter((h) => h.x !== null && h.x !== undefined).map((h) => ({ x: h.x, y: h.y, key: h.key }));
  }

  renderResults() {
    const search = this.search;
    this.panel.open("results", () => {
      const head = element("div", { class: "results-head" },
        element("strong", { text: `“${search.q}”` }), ` · ${search.mode}`, this.rerankStatus());
      if (search.hits === null) return element("div", { class: "results" }, head, element("p", { class: "status", text: "Searching…" }));
      if (search.error) return element("div", { class: "results" }, head, element("p", { class: "error", text: search.error }));
      if (!search.hits.length) {
        return element("div", { class: "results" }, head, element("p", { class: "nothing-found", text: `Nothing found for “${search.q}”.` }));
      }
      const pages = Math.ceil(search.hits.length / PAGE_SIZE);
      const first = search.page * PAGE_SIZE;
      const hits = search.hits.slice(first, first + PAGE_SIZE);
      const offMap = search.hits.filter((h) => h.x === null || h.x === undefined).length;
      return element("div", { class: "results" }, head,
        element("p", { class: "status", text: `${search.hits.length} papers in ${Math.round(search.took)} ms${offMap ? `, ${offMap} not on this map` : ""}` }),
        search.notice ? element("p", { class: "status search-notice", text: search.notice }) : null,
        element("ol", { class: "paper-list results-list", start: String(first + 1) }, hits.map((hit) => paperRow(hit, {
          extra: hit.rerank_score !== undefined ? `rerank ${hit.rerank_score.toFixed(2)}` : search.mode === "semantic" ? percentMatch(hit.score) : null,
          onChoose: (h) => this.chooseHit(h),
          onHover: (h) => this.view.setFocus(h ? h.key : null),
        }))),
        pages > 1 ? element("nav", { class: "pager" },
          element("button", { type: "button", class: "page-prev", disabled: search.page === 0, onclick: () => { search.page -= 1; this.renderResults(); } }, "‹ previous"),
          element("span", { text: `page ${search.page + 1} of ${pages}` }),
          element("button", { type: "button", class: "page-next", disabled: search.page >= pages - 1, onclick: () => { search.page += 1; this.renderResults(); } }, "next ›")) : null);
    });
  }

  chooseHit(hit) {
    this.pinArxivId(hit.arxiv_id, { fly: true });
  }

  clearSearch() {
    this.search = { q: "", mode: $("search-mode").value, rerank: $("search-rerank").checked, hits: null, page: 0 };
    $("search-input").value = "";
    this.view.setHighlights([]);
    this.view.setFocus(null);
    this.panel.close("results");
    this.saveUrl();
  }

  // ----- selection -----

  async select(outline) {
    const camera = this.view.camera;
    const polygon = outline.map(([sx, sy]) => camera.toMap(sx, sy));
    const xs = polygon.map((p) => p[0]);
    const ys = polygon.map((p) => p[1]);
    const bbox = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)].join(",");
    try {
      const buffer = await this.progress.track("selection", api.points(this.map.name, {
        bbox, zoom: this.map.max_level, limit: 50000, from: monthStart(this.dates?.from), to: monthEnd(this.dates?.to),
      }));
      const points = decodePoints(buffer);
      const chosen = [];
      for (let i = 0; i < points.count; i += 1) {
        if (this.legend.isShown(points.category[i]) && polygonContains(polygon, [points.x[i], points.y[i]])) {
          chosen.push({ key: points.key[i], x: points.x[i], y: points.y[i] });
        }
      }
      this.selection = chosen.slice(0, SELECTION_LIMIT);
      this.selectionTotal = chosen.length;
      this.view.setHighlights(this.selection.slice(0, 300));
      const listed = await this.records_for(this.selection.slice(0, 200).map((p) => p.key));
      this.panel.open("selection", () => this.selectionView(listed));
    } catch (error) {
      this.status(`Selection failed: ${error.message}`);
    }
  }

  selectionView(listed) {
    const total = this.selectionTotal;
    const kept = this.selection.length;
    return element("div", { class: "selection" },
      element("h2", { text: `${total.toLocaleString("en")} papers selected` }),
      total > kept ? element("p", { class: "status", text: `The first ${kept.toLocaleString("en")} are kept for export.` }) : null,
      element("div", { class: "export" },
        element("button", { type: "button", class: "export-csv", disabled: !kept, onclick: () => this.exportSelection("csv") }, "Export CSV"),
        element("button", { type: "button", class: "export-bibtex", disabled: !kept, onclick: () => this.exportSelection("bibtex") }, "Export BibTeX")),
      this.selectionSqlButtons(),
      element("ol", { class: "paper-list selection-list" }, listed.map((r) => paperRow(r, {
        onChoose: (p) => this.pinArxivId(p.arxiv_id, { fly: true }), onHover: (p) => this.view.setFocus(p ? p.key : null),
      }))),
      kept > listed.length ? element("p", { class: "status", text: `Listing the first ${listed.length}.` }) : null);
  }

  /** The selection's equivalent SQL, to edit and re-run in the SQL panel (when the server runs SQL). */
  selectionSqlButtons() {
    if (!this.sqlPanel?.schema?.enabled || !this.selection?.[0] || this.selection[0].x === undefined) return null;
    const sql = selectionSql(this.map.name, this.selection);
    return element("div", { class: "selection-sql" }, "As SQL: ",
      element("button", { type: "button", class: "selection-sql-ids", onclick: () => this.sqlPanel.open(sql.byIds) }, "by paper id"),
      element("button", { type: "button", class: "selection-sql-box", onclick: () => this.sqlPanel.open(sql.byBox) }, "by box"));
  }

  async exportSelection(format) {
    try {
      const response = await api.exportPapers(this.selection.map((p) => p.key), format);
      const blob = await response.blob();
      const link = element("a", { href: URL.createObjectURL(blob), download: `arxiv-atlas-selection.${format === "csv" ? "csv" : "bib"}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      this.status(`Export failed: ${error.message}`);
    }
  }

  setSelectMode(on) {
    this.selectMode = on;
    this.view.lassoActive = on;
    $("select-button").setAttribute("aria-pressed", String(on));
    $("map").classList.toggle("selecting", on);
  }

  // ----- place my text -----

  async place(text) {
    const answer = await this.progress.track("place", api.place(text, this.map.name, 10));
    this.view.setPlaced({ x: answer.x, y: answer.y });
    this.view.setHighlights(onMap(answer.neighbors).map((n) => ({ x: n.x, y: n.y, key: n.key })));
    this.view.camera.flyTo(answer.x, answer.y, Math.max(3, this.view.camera.zoom()));
    this.panel.open("placed", () => element("div", { class: "placed" },
      element("h2", { text: "Your text would sit here" }),
      element("p", { class: "placed-text", text: text.length > 300 ? `${text.slice(0, 300)}…` : text }),
      element("h3", { text: "Nearest papers on this map" }),
      element("ol", { class: "paper-list placed-list" }, answer.neighbors.map((n) => paperRow(n, {
        extra: percentMatch(n.similarity), onChoose: (p) => this.pinArxivId(p.arxiv_id, { fly: true }),
        onHover: (p) => this.view.setFocus(p ? p.key : null),
      })))));
  }

  // ----- controls -----

  wireControls() {
    $("search-rerank").checked = this.search.rerank; // RERANK_BY_DEFAULT unless the URL says otherwise
    $("search").addEventListener("submit", (event) => {
      event.preventDefault();
      const q = $("search-input").value.trim();
      if (!q) return this.clearSearch();
      this.search = { q, mode: $("search-mode").value, rerank: $("search-rerank").checked, hits: null, page: 0 };
      this.runSearch();
    });
    for (const input of document.querySelectorAll("input[name=color]")) {
      input.addEventListener("change", () => {
        this.colorMode = input.value;
        this.applyColoring();
        this.saveUrl();
      });
    }
    $("categories-all").addEventListener("click", () => this.legend.setAll(true));
    $("categories-none").addEventListener("click", () => this.legend.setAll(false));
    $("date-from").addEventListener("change", () => this.datesChanged());
    $("date-to").addEventListener("change", () => this.datesChanged());
    $("dates-clear").addEventListener("click", () => {
      $("date-from").value = "";
      $("date-to").value = "";
      this.datesChanged();
    });
    $("select-button").addEventListener("click", () => this.setSelectMode(!this.selectMode));
    $("sql-button").addEventListener("click", () => this.sqlPanel.open());
    $("share-button").addEventListener("click", () => this.share());
    $("zoom-in").addEventListener("click", () => this.view.camera.zoomBy(2));
    $("zoom-out").addEventListener("click", () => this.view.camera.zoomBy(0.5));
    $("zoom-home").addEventListener("click", () => this.view.camera.home(600));
    this.lasso = new Lasso($("map"), $("lasso"), { isActive: () => this.selectMode, onSelect: (outline) => this.select(outline) });
    $("legend-button").addEventListener("click", () => {
      const open = $("legend").classList.toggle("open");
      $("legend-button").setAttribute("aria-expanded", String(open));
    });
    const dialog = $("place-dialog");
    $("place-button").addEventListener("click", () => {
      $("place-error").hidden = true;
      dialog.showModal();
      $("place-text").focus();
    });
    $("place-cancel").addEventListener("click", () => dialog.close());
    $("place-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("place-text").value.trim();
      if (!text) return;
      $("place-submit").disabled = true;
      try {
        await this.place(text);
        dialog.close();
      } catch (error) {
        $("place-error").hidden = false;
        $("place-error").textContent = error.message;
      } finally {
        $("place-submit").disabled = false;
      }
    });
    document.addEventListener("keydown", (event) => this.key(event));
  }

  key(event) {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName);
    if (event.key === "/" && !typing) {
      event.preventDefault();
      $("search-input").focus();
      $("search-input").select();
    } else if (!typing && (event.key === "+" || event.key === "=")) {
      this.view.camera.zoomBy(2);
    } else if (!typing && (event.key === "-" || event.key === "_")) {
      this.view.camera.zoomBy(0.5);
    } else if (!typing && event.key === "0") {
      this.view.camera.home(600);
    } else if (event.key === "Escape") {
      if ($("place-dialog").open) return;
      this.tooltip.hide();
      this.setSelectMode(false);
      if (this.search.q || this.panel.kind === "results") this.clearSearch();
      this.unpin();
      this.view.setPlaced(null);
      this.view.setHighlights([]);
      this.panel.close();
      if (typing) event.target.blur();
    }
  }
}

/** Screen edges covered by the toolbar and the legend (none on phones, where the legend folds away). */
function panelInsets(withPanel) {
  const panel = $("panel");
  const open = withPanel && !panel.hidden;
  if (window.innerWidth < PHONE_WIDTH) {
    return { left: 0, top: 96, right: 0, bottom: open ? panel.getBoundingClientRect().height : 0 };
  }
  const legend = $("legend").getBoundingClientRect();
  const right = open ? window.innerWidth - panel.getBoundingClientRect().left + 8 : 8;
  return { left: legend.right + 8, top: 56, right, bottom: 8 };
}

function onMap(neighbors) {
  return (neighbors || []).filter((n) => n.x !== null && n.x !== undefined);
}

/** The URL fields that a saved view's state sets (urlState.js names). */
function urlOfView(state) {
  const fields = { map: state.map, q: state.query?.text || "", mode: state.query?.mode || "hybrid", sql: state.sql || "" };
  if (state.camera) Object.assign(fields, { x: state.camera.x, y: state.camera.y, zoom: state.camera.zoom });
  if (state.filters?.date_from) fields.from = state.filters.date_from.slice(0, 7);
  if (state.filters?.date_to) fields.to = state.filters.date_to.slice(0, 7);
  if (state.filters?.color) fields.color = state.filters.color;
  return fields;
}

async function showMap(name, restored = null) {
  const maps = await api.maps();
  const map = maps.find((m) => m.name === name);
  if (!map) {
    document.getElementById("start").hidden = false;
    const message = $("start-message");
    message.hidden = false;
    message.textContent = `There is no map named “${name}”. Choose one of these:`;
    await showStartPage();
    return null;
  }
  const [categories, topics] = await Promise.all([api.categories(), api.topics(name).catch(() => [])]);
  const names = new Map(categories.map((c) => [c.code, c.name]));
  const counts = new Map(categories.map((c) => [c.code, c.papers]));
  const app = new AtlasApp(map, { names, counts, topics, restored });
  await app.start();
  return app;
}

async function main() {
  let app = null;
  setupThemeToggles((theme) => app?.view?.setTheme(themeColours(theme)));
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
