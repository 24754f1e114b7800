// Saved views: "Share" stores what the map shows (POST /api/views) and offers its link and its papers as
// CSV, BibTeX or Parquet (with their provenance); a link `/?view=ID` restores it, and says so when the
// corpus, the model or the projection changed since, with the papers added and gone on a re-run.

import { api } from "../api.js";
import { element } from "../format.js";
import { monthEnd, monthStart } from "../urlState.js";

/**
 * @typedef {{map: string, camera?: {x: number, y: number, zoom: number}, filters?: object,
 *   query?: {text: string, mode: string}, sql?: string, selection?: number[]}} ViewState
 */

/**
 * What the map shows, as POST /api/views wants it: read from the map's state (types.js, AtlasState).
 * @param {import("../atlasMap.js").AtlasMap} atlasMap
 * @param {import("./panel.js").Panel} panel  the selection counts only while its view is shown
 * @returns {ViewState}
 */
export function viewState(atlasMap, panel) {
  const { centre, zoom } = atlasMap.get("camera");
  const filters = atlasMap.get("filters");
  const query = atlasMap.get("query");
  const sql = atlasMap.get("sql");
  const selection = atlasMap.get("selection");
  return {
    map: atlasMap.get("map").name,
    camera: { x: centre[0], y: centre[1], zoom },
    filters: { category: null, date_from: monthStart(filters.from), date_to: monthEnd(filters.to), color: filters.color },
    query: query ? { text: query.q, mode: query.mode } : null,
    sql: sql?.answered ? sql.text : null,
    selection: panel.kind === "selection" && selection?.length ? selection : null,
  };
}

/** "Share" and a restored view's notice. */
export class ViewsPanel {
  /**
   * The toolbar's "Share" and a restored view's notice.
   * @param {{atlasMap: import("../atlasMap.js").AtlasMap, panel: import("./panel.js").Panel,
   *   button: HTMLElement, status: (text: string) => void}} options
   */
  constructor({ atlasMap, panel, button, status }) {
    Object.assign(this, { atlasMap, panel, button, status });
    this.share = () => this.save();
    button.addEventListener("click", this.share);
  }

  /** Save what the map shows and offer its link and exports. */
  async save() {
    try {
      await shareView(this.panel, viewState(this.atlasMap, this.panel));
    } catch (error) {
      this.status(`The view could not be saved: ${error.message}`);
    }
  }

  /**
   * @param {object} view  GET /api/views/{id}
   */
  showRestored(view) {
    showRestoredView(this.panel, view);
  }

  /** Remove its DOM listener. */
  destroy() {
    this.button.removeEventListener("click", this.share);
  }
}

/**
 * Links to a view's papers in each export format.
 * @param {string} id
 * @returns {HTMLElement}
 */
function exportLinks(id) {
  return element("div", { class: "export view-export" },
    ["csv", "bibtex", "parquet"].map((format) => element("a", {
      class: `button export-${format}`, href: `/api/views/${id}/export?format=${format}`,
      download: `arxiv-atlas-view-${id}.${format === "bibtex" ? "bib" : format}`,
    }, format === "bibtex" ? "BibTeX" : format.toUpperCase())));
}

/**
 * @param {{snapshot_id: number, model?: string, space_id?: string, projection_id?: string}} saved
 * @returns {HTMLElement}
 */
function provenance(saved) {
  return element("dl", { class: "view-provenance" },
    element("dt", { text: "corpus snapshot" }), element("dd", { class: "view-snapshot", text: String(saved.snapshot_id) }),
    element("dt", { text: "model" }), element("dd", { text: `${saved.model || "–"} (space ${saved.space_id || "–"})` }),
    element("dt", { text: "projection" }), element("dd", { text: saved.projection_id || "–" }));
}

/**
 * Save a view and show its link and exports in the panel.
 * @param {import("./panel.js").Panel} panel
 * @param {ViewState} state
 * @returns {Promise<object>} the saved view (POST /api/views)
 */
export async function shareView(panel, state) {
  const saved = await api.saveView(state);
  const link = `${window.location.origin}/?view=${saved.id}`;
  panel.open("view", () => element("div", { class: "view-saved" },
    element("h2", { text: "View saved" }),
    element("p", {}, "Link: ", element("a", { class: "view-link", href: link, "data-view-id": saved.id, text: link })),
    element("p", { class: "status", text: `${saved.papers} papers kept with it. The id is a hash of the corpus snapshot, the embedding space, the projection and what the map shows.` }),
    provenance(saved),
    exportLinks(saved.id)));
  return saved;
}

/**
 * The restored view in the panel: what it was made from, whether that changed, and a re-run.
 * @param {import("./panel.js").Panel} panel
 * @param {object} view  GET /api/views/{id}
 */
export function showRestoredView(panel, view) {
  let rerun = null;
  const changed = Object.entries(view.changed).filter(([, v]) => v).map(([k]) => k);
  const render = () => element("div", { class: "view-restored" },
    element("h2", { text: `View ${view.id}` }),
    changed.length
      ? element("p", { class: "view-changed notice", role: "status",
        text: `The ${changed.join(", ")} changed since this view was saved (snapshot ${view.saved.snapshot_id} → ${view.current.snapshot_id}).` })
      : element("p", { class: "status view-unchanged", text: "Same corpus, model and projection as when it was saved." }),
    provenance(view.saved),
    changed.length && !rerun ? element("button", { type: "button", class: "view-rerun", onclick: async () => {
      rerun = await api.rerunView(view.id);
      panel.open("view", render);
    } }, "Re-run on the current snapshot") : null,
    rerun ? element("div", { class: "view-diff" },
      element("p", { class: "status view-diff-count", text: `${rerun.papers} papers now: ${rerun.added.length} added, ${rerun.gone.length} gone.` }),
      element("h3", { text: "Added" }), element("ul", { class: "view-added" }, rerun.added.slice(0, 50).map((p) => element("li", { text: `${p.arxiv_id} ${p.title || ""}` }))),
      element("h3", { text: "Gone" }), element("ul", { class: "view-gone" }, rerun.gone.slice(0, 50).map((p) => element("li", { text: `${p.arxiv_id} ${p.title || "(no longer in the database)"}` })))) : null,
    exportLinks(view.id));
  panel.open("view", render);
}
