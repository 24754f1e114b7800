// The SQL panel: a read-only query on schema analytics (POST /api/sql), its rows with an arxiv_id or a
// paper_id drawn as a layer above the points, its columns in a table with paging and "fly to" per row,
// the schema and one-click examples (from docs/analysts.md) beside the box. A refused query shows the
// database's message inline. It talks to the map only through createAtlasMap's set/get/subscribe: it
// sets the layer "sqlLayer" and the state "sql" (for the URL and a saved view).

import { api } from "../api.js";
import { FLY_ZOOM, FRAME_DURATION_MS, SQL_DEFAULT_QUERY, SQL_MAX_CHARS, SQL_PAGE_SIZE, SQL_ROW_LIMIT } from "../constants.js";
import { element } from "../format.js";

/**
 * @typedef {{columns: Array<{name: string, type: string}>, rows: any[][], row_count: number, truncated: boolean,
 *   took_ms: number, id_column: string|null, points: Array<{row: number, key: number, arxiv_id: string, x: number, y: number}>,
 *   on_map: number}} SqlAnswer
 */

export class SqlPanel {
  /**
   * @param {{atlasMap: import("../atlasMap.js").AtlasMap, panel: import("./panel.js").Panel,
   *   button: HTMLElement, onPin: (arxivId: string) => void}} options
   *   button: the toolbar's "SQL", shown when the server runs SQL (available)
   */
  constructor({ atlasMap, panel, button, onPin }) {
    this.atlasMap = atlasMap;
    this.panel = panel;
    this.mapName = atlasMap.get("map").name;
    this.button = button;
    this.onPin = onPin;
    this.openPanel = () => this.open();
    button.addEventListener("click", this.openPanel);
    this.off = [panel.onClose("sql", () => this.clear())];
    this.sql = "";
    /** @type {SqlAnswer|null} */
    this.answer = null;
    this.error = null;
    this.running = false;
    this.page = 0;
    this.schema = null;
    /** @type {Array<(panel: SqlPanel) => Node|null>} more buttons beside Run and Clear (explain/index.js: Footprint) */
    this.actions = [];
  }

  /**
   * Whether this server runs SQL (GET /api/sql/schema; the schema is kept for the panel); the button shows if so.
   * @returns {Promise<boolean>}
   */
  async available() {
    try {
      this.schema = await api.sqlSchema();
    } catch {
      this.schema = { enabled: false, objects: [], examples: [] };
    }
    this.button.hidden = !this.schema.enabled;
    return this.schema.enabled;
  }

  /** The query, for the URL (also when refused) and a saved view (only when answered). */
  publish() {
    this.atlasMap.set("sql", this.sql && (this.answer || this.error) ? { text: this.sql, answered: Boolean(this.answer) } : null);
  }

  /**
   * Show the panel, with this query in the box (else the last one, else SQL_DEFAULT_QUERY).
   * @param {string|null} [sql]
   */
  open(sql = null) {
    if (sql !== null) this.sql = sql;
    if (!this.sql) this.sql = SQL_DEFAULT_QUERY;
    this.panel.open("sql", () => this.render());
  }

  /**
   * Run the query; on success draw its layer and frame it in the free part of the map.
   * @param {string} [sql]
   * @param {{frame?: boolean}} [options]
   */
  async run(sql = this.sql, { frame = true } = {}) {
    this.sql = sql;
    this.running = true;
    this.error = null;
    this.open();
    try {
      this.answer = await api.sql({ sql, map: this.mapName, limit: SQL_ROW_LIMIT });
      this.page = 0;
      this.atlasMap.set("sqlLayer", this.answer.points.map((p) => ({ x: p.x, y: p.y, key: p.key })));
    } catch (error) {
      this.error = error.message;
      this.answer = null;
      this.atlasMap.set("sqlLayer", []);
    } finally {
      this.running = false;
    }
    this.open();
    this.publish();
    // Framed after the answer is drawn: the sheet's final height decides the part of the map left free.
    const points = this.atlasMap.get("sqlLayer");
    if (frame && this.answer && points.length) this.atlasMap.get("view").camera.frame(points, FRAME_DURATION_MS);
  }

  /** No query: the layer and the panel gone. */
  clear() {
    this.sql = "";
    this.answer = null;
    this.error = null;
    this.atlasMap.set("sqlLayer", []);
    this.panel.close("sql");
    this.publish();
  }

  /** Remove its DOM listener and unsubscribe. */
  destroy() {
    this.button.removeEventListener("click", this.openPanel);
    for (const off of this.off) off();
  }

  /** @returns {HTMLElement} the box, the answer and the schema */
  render() {
    const box = element("textarea", {
      class: "sql-input", id: "sql-input", rows: "7", maxlength: String(SQL_MAX_CHARS), spellcheck: "false",
      "aria-label": "SQL query",
    });
    box.value = this.sql;
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) this.run(box.value);
    });
    const form = element("form", { class: "sql-form", id: "sql-form", onsubmit: (event) => { event.preventDefault(); this.run(box.value); } },
      element("h2", { text: "SQL" }),
      box,
      element("div", { class: "sql-actions" },
        element("button", { type: "submit", id: "sql-run", disabled: this.running }, this.running ? "Running…" : "Run (Ctrl+Enter)"),
        element("button", { type: "button", id: "sql-clear", onclick: () => this.clear() }, "Clear"),
        this.actions.map((action) => action(this))));
    return element("div", { class: "sql-panel" }, form, this.renderAnswer(), this.renderSchema());
  }

  /** @returns {HTMLElement|null} the answer's table, or the refusal */
  renderAnswer() {
    if (this.error) return element("p", { class: "error sql-error", role: "alert", text: this.error });
    const answer = this.answer;
    if (!answer) return null;
    const rows = answer.rows;
    const pointOf = new Map(answer.points.map((p) => [p.row, p]));
    const pages = Math.max(1, Math.ceil(rows.length / SQL_PAGE_SIZE));
    const first = this.page * SQL_PAGE_SIZE;
    const status = `${answer.row_count.toLocaleString("en")}${answer.truncated ? "+" : ""} rows in ${Math.round(answer.took_ms)} ms`
      + (answer.id_column ? ` · ${answer.on_map.toLocaleString("en")} on the map` : " · no arxiv_id or paper_id column: nothing to draw");
    const table = element("table", { class: "sql-table" },
      element("thead", {}, element("tr", {}, element("th", { text: "" }), answer.columns.map((c) => element("th", { text: c.name, title: c.type })))),
      element("tbody", {}, rows.slice(first, first + SQL_PAGE_SIZE).map((row, i) => {
        const point = pointOf.get(first + i);
        const fly = point
          ? element("button", { type: "button", class: "sql-fly", title: "Fly to this paper", onclick: () => this.flyTo(point) }, "◎")
          : "";
        const tr = element("tr", { "data-row": String(first + i) }, element("td", {}, fly),
          row.map((value) => element("td", { text: value === null ? "∅" : typeof value === "object" ? JSON.stringify(value) : String(value) })));
        if (point) {
          tr.addEventListener("mouseenter", () => this.atlasMap.set("focusKey", point.key));
          tr.addEventListener("mouseleave", () => this.atlasMap.set("focusKey", null));
        }
        return tr;
      })));
    return element("div", { class: "sql-answer" },
      element("p", { class: "status sql-status", id: "sql-status", text: status }),
      answer.truncated ? element("p", { class: "status", text: `Only the first ${rows.length.toLocaleString("en")} rows were read.` }) : null,
      element("div", { class: "sql-table-wrap" }, table),
      pages > 1 ? element("nav", { class: "pager" },
        element("button", { type: "button", class: "page-prev", disabled: this.page === 0, onclick: () => { this.page -= 1; this.open(); } }, "‹ previous"),
        element("span", { text: `page ${this.page + 1} of ${pages}` }),
        element("button", { type: "button", class: "page-next", disabled: this.page >= pages - 1, onclick: () => { this.page += 1; this.open(); } }, "next ›")) : null);
  }

  /** @param {{x: number, y: number, key: number, arxiv_id: string}} point  a row's paper */
  flyTo(point) {
    this.atlasMap.set("focusKey", point.key);
    this.atlasMap.get("view").camera.flyTo(point.x, point.y, FLY_ZOOM);
    this.onPin?.(point.arxiv_id);
  }

  /** @returns {HTMLElement|null} the examples and the schema analytics */
  renderSchema() {
    const schema = this.schema;
    if (!schema?.enabled) return null;
    const examples = element("details", { class: "sql-examples", open: "" },
      element("summary", { text: "Examples (docs/analysts.md)" }),
      element("ul", {}, schema.examples.map((example) => element("li", {},
        element("button", { type: "button", class: "sql-example", title: example.sql, onclick: () => this.run(example.sql) }, example.title)))));
    const objects = element("details", { class: "sql-schema" },
      element("summary", { text: "Schema analytics" }),
      element("ul", {}, schema.objects.map((o) => element("li", {},
        element("code", { text: o.kind === "function" ? `${o.name}(…)` : o.name }),
        o.kind === "view" ? element("span", { class: "sql-columns", text: ` ${o.columns.map((c) => c.name).join(", ")}` })
          : element("span", { class: "sql-columns", text: ` ${o.columns[0].name}` })))));
    return element("div", { class: "sql-side" }, examples, objects);
  }
}

/**
 * The SQL that selects a lasso selection again: its papers by id, or its bounding box on analytics.map_points.
 * @param {string} mapName
 * @param {Array<{key: number, x: number, y: number}>} points
 * @returns {{byIds: string, byBox: string}}
 */
export function selectionSql(mapName, points) {
  const ids = points.slice(0, 1000).map((p) => p.key).join(", ");
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)].map((v) => v.toFixed(4));
  return {
    byIds: `select paper_id, arxiv_id, title, main_category, published\n  from analytics.papers\n where paper_id = any(array[${ids}])`,
    byBox: `select paper_id, arxiv_id, title, main_category, x, y\n  from analytics.map_points\n where map = '${mapName}'\n   and x between ${box[0]} and ${box[2]}\n   and y between ${box[1]} and ${box[3]}`,
  };
}
