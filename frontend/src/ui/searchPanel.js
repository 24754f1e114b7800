// The search box and its results: the hits without reranking at once, then, when asked, the
// reranked order; 100 hits in pages, ringed on the map (layer "highlights") and framed in the part of
// the map the panel leaves free. It sets the state "query" (for the URL) and subscribes to "filters":
// a new date range searches again.

import { api } from "../api.js";
import { FRAME_DURATION_MS, PAGE_SIZE, SEARCH_HITS } from "../constants.js";
import { element, percentMatch } from "../format.js";
import { onMap } from "../papers.js";
import { monthEnd, monthStart } from "../urlState.js";
import { paperRow } from "./panel.js";

/** @typedef {import("../types.js").PaperRecord} PaperRecord */
/** @typedef {import("../types.js").Query} Query */

/**
 * @typedef {object} Search
 * @property {string} q
 * @property {string} mode
 * @property {boolean} rerank
 * @property {Array<PaperRecord & {score?: number, rerank_score?: number}>|null} hits  null while searching
 * @property {number} page
 * @property {string|null} [error]
 * @property {number} [took]  ms the server took
 * @property {number} [roundTrip]  ms the page waited
 * @property {"pending"|"done"|"kept"|"failed"|null} [reranked]  kept: the server found the first hit decisive
 * @property {string} [rerankError]
 * @property {string} [rerankSkipped]  why the server kept the search order
 * @property {string|null} [notice]
 */

export class SearchPanel {
  /**
   * @param {{atlasMap: import("../atlasMap.js").AtlasMap, panel: import("./panel.js").Panel,
   *   progress: import("./progress.js").Progress, query: Query, onChoose: (hit: PaperRecord) => void}} options
   *   `query`: the search to start from (the URL's; its q may be empty)
   */
  constructor({ atlasMap, panel, progress, query, onChoose }) {
    this.atlasMap = atlasMap;
    this.panel = panel;
    this.progress = progress;
    this.onChoose = onChoose;
    this.form = document.getElementById("search");
    this.input = document.getElementById("search-input");
    this.mode = document.getElementById("search-mode");
    this.rerank = document.getElementById("search-rerank");
    /** @type {Search} */
    this.search = { q: query.q, mode: query.mode, rerank: query.rerank, hits: null, page: 0, error: null, took: 0 };
    this.rerank.checked = this.search.rerank; // RERANK_BY_DEFAULT unless the URL says otherwise
    this.dates = this.datesOf(atlasMap.get("filters"));
    this.submit = (event) => {
      event.preventDefault();
      const q = this.input.value.trim();
      if (!q) return this.clear();
      this.search = { q, mode: this.mode.value, rerank: this.rerank.checked, hits: null, page: 0 };
      this.run();
    };
    this.form.addEventListener("submit", this.submit);
    this.off = [
      atlasMap.subscribe("filters", (filters) => this.filtersChanged(filters)),
      panel.onClose("results", () => this.clear()),
    ];
    if (this.search.q) this.publish();
  }

  /**
   * @param {import("../types.js").Filters} filters
   * @returns {string} the date range, to compare
   */
  datesOf(filters) {
    return `${filters.from || ""}..${filters.to || ""}`;
  }

  /** A new date range searches again (the API filters the hits by date too). */
  filtersChanged(filters) {
    const dates = this.datesOf(filters);
    if (dates === this.dates) return;
    this.dates = dates;
    if (this.search.q) this.run();
  }

  /** The query as the map's state "query" (null without one). */
  publish() {
    const { q, mode, rerank } = this.search;
    this.atlasMap.set("query", q ? { q, mode, rerank } : null);
  }

  /**
   * Run the search of `this.search`: the vector hits at once, the reranked order when it comes.
   * @param {{restoring?: boolean, frame?: boolean}} [options]  restoring: from the URL (frame: whether
   *   to frame the hits, when the URL has no camera)
   */
  async run({ restoring = false, frame = true } = {}) {
    const search = this.search;
    search.page = 0;
    search.error = null;
    search.hits = null;
    this.input.value = search.q;
    this.mode.value = search.mode;
    this.rerank.checked = search.rerank;
    this.publish();
    // A new search comes to the top; one restored from the URL goes under a paper the URL pinned.
    this.render(restoring ? { below: true } : { top: true });
    const filters = this.atlasMap.get("filters");
    const params = {
      q: search.q, mode: search.mode, rerank: search.rerank, top_n: SEARCH_HITS, top_k: Math.max(SEARCH_HITS, 100),
      map: this.atlasMap.get("map").name, from: monthStart(filters.from), to: monthEnd(filters.to),
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
    this.atlasMap.set("highlights", this.highlights());
    this.render();
    // The hits, framed in the part of the map the results panel leaves free.
    if (!restoring || frame) this.atlasMap.get("view").camera.frame(this.highlights(), FRAME_DURATION_MS);
    if (search.reranked === "pending" && search.hits.length) await this.rerankSearch(search, params, current);
    else if (search.reranked === "pending") search.reranked = null;
  }

  /**
   * The reranked order replaces the vector hits (or the list says why not).
   * @param {Search} search
   * @param {Record<string, any>} params  GET /api/search's
   * @param {() => boolean} current  whether this search is still the one shown
   */
  async rerankSearch(search, params, current) {
    try {
      const answer = await this.progress.track("rerank", api.search({ ...params, rerank: true }));
      if (!current()) return;
      search.hits = answer.hits;
      search.took = answer.took_ms;
      search.reranked = answer.rerank ? "done" : answer.rerank_skipped ? "kept" : "failed";
      if (answer.rerank_skipped) search.rerankSkipped = answer.rerank_skipped;
      else if (!answer.rerank) search.rerankError = "the server did not rerank";
    } catch (error) {
      if (!current()) return;
      search.reranked = "failed"; // the vector hits stay, and the list says why they are not reranked
      search.rerankError = error.message;
    }
    this.atlasMap.set("highlights", this.highlights());
    this.render();
  }

  /**
   * The hits that are on this map, as points.
   * @returns {import("../types.js").MapPoint[]}
   */
  highlights() {
    return onMap(this.search.hits).map((h) => ({ x: h.x, y: h.y, key: h.key }));
  }

  /** @returns {HTMLElement|null} " · reranking…", " · reranked", " · order kept" or " · not reranked" */
  rerankStatus() {
    const search = this.search;
    if (search.reranked === "pending") return element("span", { class: "rerank-status pending", text: " · reranking…" });
    if (search.reranked === "done") return element("span", { class: "rerank-status reranked", text: " · reranked" });
    if (search.reranked === "kept") {
      return element("span", { class: "rerank-status kept", text: " · order kept", title: `Not reranked: ${search.rerankSkipped}` });
    }
    if (search.reranked === "failed") {
      return element("span", { class: "rerank-status not-reranked", text: " · not reranked", title: search.rerankError || "" });
    }
    return null;
  }

  /**
   * The results in the panel, where they are in its stack (a late answer does not cover the paper
   * the reader went on to).
   * @param {{top?: boolean, below?: boolean}} [options]  top: bring them to the top (a new search);
   *   below: when not open yet, open them under the other views (a search restored from the URL)
   */
  render({ top = false, below = false } = {}) {
    const search = this.search;
    const show = (render) => (top ? this.panel.open("results", render) : this.panel.update("results", render, { below }));
    show(() => {
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
      const offMap = search.hits.length - onMap(search.hits).length;
      const turn = (by) => {
        search.page += by;
        this.render();
      };
      return element("div", { class: "results" }, head,
        element("p", { class: "status", text: `${search.hits.length} papers in ${Math.round(search.took)} ms${offMap ? `, ${offMap} not on this map` : ""}` }),
        search.notice ? element("p", { class: "status search-notice", text: search.notice }) : null,
        element("ol", { class: "paper-list results-list", start: String(first + 1) }, hits.map((hit) => paperRow(hit, {
          extra: hit.rerank_score !== undefined ? `rerank ${hit.rerank_score.toFixed(2)}` : search.mode === "semantic" ? percentMatch(hit.score) : null,
          onChoose: (h) => this.onChoose(h),
          onHover: (h) => this.atlasMap.set("focusKey", h ? h.key : null),
        }))),
        pages > 1 ? element("nav", { class: "pager" },
          element("button", { type: "button", class: "page-prev", disabled: search.page === 0, onclick: () => turn(-1) }, "‹ previous"),
          element("span", { text: `page ${search.page + 1} of ${pages}` }),
          element("button", { type: "button", class: "page-next", disabled: search.page >= pages - 1, onclick: () => turn(1) }, "next ›")) : null);
    });
  }

  /** No search: the box emptied, the rings and the results gone. */
  clear() {
    this.search = { q: "", mode: this.mode.value, rerank: this.rerank.checked, hits: null, page: 0 };
    this.input.value = "";
    this.atlasMap.set({ highlights: [], focusKey: null });
    this.panel.close("results");
    this.publish();
  }

  /** Esc: clear the search when there is one. */
  escape() {
    if (this.search.q || this.panel.kind === "results") this.clear();
  }

  /** Remove its DOM listener and unsubscribe. */
  destroy() {
    this.form.removeEventListener("submit", this.submit);
    for (const off of this.off) off();
  }
}
