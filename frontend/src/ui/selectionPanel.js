// The lasso selection: "Select" (or Shift + drag) draws an outline; every paper inside it (all
// levels, not only those drawn, respecting the filters) is listed, up to SELECTION_LIMIT kept for
// export as CSV or BibTeX, ringed on the map (layer "highlights"), and offered as SQL when the
// server runs SQL. It sets the state "selection" (the keys, for a saved view).

import { polygonContains } from "d3";

import { api } from "../api.js";
import { SELECTION_LIMIT, SELECTION_LISTED, SELECTION_POINTS_LIMIT, SELECTION_RINGS } from "../constants.js";
import { element } from "../format.js";
import { decodePoints } from "../tiles.js";
import { monthEnd, monthStart } from "../urlState.js";
import { Lasso } from "./lasso.js";
import { paperRow } from "./panel.js";
import { selectionSql } from "./sqlPanel.js";

/** @typedef {import("../types.js").PaperRecord} PaperRecord */
/** @typedef {{key: number, x?: number, y?: number}} Selected */

export class SelectionPanel {
  /**
   * @param {{atlasMap: import("../atlasMap.js").AtlasMap, panel: import("./panel.js").Panel,
   *   progress: import("./progress.js").Progress, papers: import("../papers.js").PaperStore,
   *   legend: import("./legend.js").Legend, sqlPanel: import("./sqlPanel.js").SqlPanel,
   *   status: (text: string) => void, onChoose: (paper: PaperRecord) => void,
   *   highlightsAfter: () => import("../types.js").MapPoint[]}} options
   *   highlightsAfter: the rings to draw again when the selection's panel closes (the search's)
   */
  constructor({ atlasMap, panel, progress, papers, legend, sqlPanel, status, onChoose, highlightsAfter }) {
    Object.assign(this, { atlasMap, panel, progress, papers, legend, sqlPanel, status, onChoose, highlightsAfter });
    /** @type {Selected[]} */
    this.selection = [];
    this.total = 0;
    this.active = false;
    this.button = document.getElementById("select-button");
    this.mapElement = document.getElementById("map");
    this.toggle = () => this.setSelectMode(!this.active);
    this.button.addEventListener("click", this.toggle);
    this.lasso = new Lasso(this.mapElement, document.getElementById("lasso"), {
      isActive: () => this.active, onSelect: (outline) => this.select(outline),
    });
    this.off = [panel.onClose("selection", () => this.close())];
  }

  /**
   * Select mode on or off: a drag on the map draws a lasso instead of panning.
   * @param {boolean} on
   */
  setSelectMode(on) {
    this.active = on;
    this.atlasMap.get("view").lassoActive = on;
    this.button.setAttribute("aria-pressed", String(on));
    this.mapElement.classList.toggle("selecting", on);
  }

  /**
   * Select the papers inside an outline (screen pixels).
   * @param {number[][]} outline
   */
  async select(outline) {
    const camera = this.atlasMap.get("view").camera;
    const polygon = outline.map(([sx, sy]) => camera.toMap(sx, sy));
    const xs = polygon.map((p) => p[0]);
    const ys = polygon.map((p) => p[1]);
    const bbox = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)].join(",");
    const map = this.atlasMap.get("map");
    const filters = this.atlasMap.get("filters");
    try {
      const buffer = await this.progress.track("selection", api.points(map.name, {
        bbox, zoom: map.max_level, limit: SELECTION_POINTS_LIMIT, from: monthStart(filters.from), to: monthEnd(filters.to),
      }));
      const points = decodePoints(buffer);
      const chosen = [];
      for (let i = 0; i < points.count; i += 1) {
        if (this.legend.isShown(points.category[i]) && polygonContains(polygon, [points.x[i], points.y[i]])) {
          chosen.push({ key: points.key[i], x: points.x[i], y: points.y[i] });
        }
      }
      this.selection = chosen.slice(0, SELECTION_LIMIT);
      this.total = chosen.length;
      this.atlasMap.set({ highlights: this.selection.slice(0, SELECTION_RINGS), selection: this.selection.map((p) => p.key) });
      const listed = await this.papers.recordsOf(this.selection.slice(0, SELECTION_LISTED).map((p) => p.key));
      this.panel.open("selection", () => this.render(listed));
    } catch (error) {
      this.status(`Selection failed: ${error.message}`);
    }
  }

  /**
   * A saved view's selection, by keys (no positions: no rings, no SQL by box).
   * @param {number[]} keys
   */
  async restore(keys) {
    const records = await this.papers.recordsOf(keys.slice(0, SELECTION_LISTED));
    this.selection = keys.map((key) => ({ key }));
    this.total = keys.length;
    this.atlasMap.set("selection", keys);
    this.panel.open("selection", () => this.render(records));
  }

  /**
   * @param {PaperRecord[]} listed
   * @returns {HTMLElement}
   */
  render(listed) {
    const total = this.total;
    const kept = this.selection.length;
    return element("div", { class: "selection" },
      element("h2", { text: `${total.toLocaleString("en")} papers selected` }),
      total > kept ? element("p", { class: "status", text: `The first ${kept.toLocaleString("en")} are kept for export.` }) : null,
      element("div", { class: "export" },
        element("button", { type: "button", class: "export-csv", disabled: !kept, onclick: () => this.export("csv") }, "Export CSV"),
        element("button", { type: "button", class: "export-bibtex", disabled: !kept, onclick: () => this.export("bibtex") }, "Export BibTeX")),
      this.sqlButtons(),
      element("ol", { class: "paper-list selection-list" }, listed.map((r) => paperRow(r, {
        onChoose: (p) => this.onChoose(p), onHover: (p) => this.atlasMap.set("focusKey", p ? p.key : null),
      }))),
      kept > listed.length ? element("p", { class: "status", text: `Listing the first ${listed.length}.` }) : null);
  }

  /** The selection's equivalent SQL, to edit and re-run in the SQL panel (when the server runs SQL). */
  sqlButtons() {
    if (!this.sqlPanel.schema?.enabled || !this.selection[0] || this.selection[0].x === undefined) return null;
    const sql = selectionSql(this.atlasMap.get("map").name, this.selection);
    return element("div", { class: "selection-sql" }, "As SQL: ",
      element("button", { type: "button", class: "selection-sql-ids", onclick: () => this.sqlPanel.open(sql.byIds) }, "by paper id"),
      element("button", { type: "button", class: "selection-sql-box", onclick: () => this.sqlPanel.open(sql.byBox) }, "by box"));
  }

  /**
   * Download the kept papers (POST /api/export).
   * @param {"csv"|"bibtex"} format
   */
  async export(format) {
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

  /** The panel's close button: the search's rings come back. */
  close() {
    this.atlasMap.set({ highlights: this.highlightsAfter(), selection: null });
    this.panel.close("selection");
  }

  /** Esc: select mode off, the selection forgotten. */
  escape() {
    this.setSelectMode(false);
    if (this.atlasMap.get("selection")) this.atlasMap.set("selection", null);
  }

  /** Remove its DOM listeners and unsubscribe. */
  destroy() {
    this.button.removeEventListener("click", this.toggle);
    this.lasso.destroy();
    for (const off of this.off) off();
  }
}
