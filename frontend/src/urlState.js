// The view lives in the URL (map, centre, zoom, pinned paper, query, filters, colouring), so that a
// copied link restores the same view. Reading is tolerant: a bad value is ignored, not fatal.

import { RERANK_BY_DEFAULT, SEARCH_MODES, URL_WRITE_MS } from "./constants.js";

const NUMBER = /^-?\d+(\.\d+)?(e-?\d+)?$/i;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const MODES = new Set(SEARCH_MODES);
const URL_COLOURS = new Set(["year", "trust"]); // colourings a link keeps (category is the default)

/**
 * @typedef {object} UrlState
 * @property {string|null} map
 * @property {number|null} x
 * @property {number|null} y
 * @property {number|null} zoom
 * @property {string|null} paper
 * @property {string} q
 * @property {string} mode
 * @property {boolean} rerank
 * @property {string[]|null} only
 * @property {string[]|null} hide
 * @property {string} color
 * @property {string|null} from
 * @property {string|null} to
 * @property {string} sql
 * @property {string|null} [view]
 */

/**
 * The view a URL's query string asks for; a bad value is left out.
 * @param {string} [search]
 * @returns {UrlState}
 */
export function readUrlState(search = window.location.search) {
  const params = new URLSearchParams(search);
  const number = (name) => (NUMBER.test(params.get(name) || "") ? Number(params.get(name)) : null);
  const list = (name) => (params.get(name) ? params.get(name).split(",").filter(Boolean) : null);
  const month = (name) => (MONTH.test(params.get(name) || "") ? params.get(name) : null);
  return {
    map: params.get("map"),
    x: number("x"),
    y: number("y"),
    zoom: number("z"),
    paper: params.get("paper"),
    q: params.get("q") || "",
    mode: MODES.has(params.get("mode")) ? params.get("mode") : "hybrid",
    rerank: params.has("rerank") ? params.get("rerank") === "1" : RERANK_BY_DEFAULT,
    only: list("cats"),
    hide: list("hide"),
    color: URL_COLOURS.has(params.get("color")) ? params.get("color") : "category",
    from: month("from"),
    to: month("to"),
    sql: params.get("sql") || "",
    view: /^[0-9a-f]{20}$/.test(params.get("view") || "") ? params.get("view") : null,
  };
}

/**
 * The URL (path and query) of a view.
 * @param {Partial<UrlState>} state
 * @returns {string}
 */
export function urlFor(state) {
  const params = new URLSearchParams();
  params.set("map", state.map);
  if (state.x !== null && state.x !== undefined) {
    params.set("x", state.x.toFixed(4));
    params.set("y", state.y.toFixed(4));
    params.set("z", state.zoom.toFixed(2));
  }
  if (state.paper) params.set("paper", state.paper);
  if (state.q) {
    params.set("q", state.q);
    params.set("mode", state.mode);
    if (Boolean(state.rerank) !== RERANK_BY_DEFAULT) params.set("rerank", state.rerank ? "1" : "0");
  }
  if (state.only) params.set("cats", state.only.join(","));
  if (state.hide) params.set("hide", state.hide.join(","));
  if (URL_COLOURS.has(state.color)) params.set("color", state.color);
  if (state.from) params.set("from", state.from);
  if (state.to) params.set("to", state.to);
  if (state.sql) params.set("sql", state.sql);
  return `${window.location.pathname}?${params.toString().replaceAll("%2C", ",")}`;
}

let pending = null;

/**
 * Replace the URL (no history entry per frame), at most every URL_WRITE_MS.
 * @param {Partial<UrlState>} state
 */
export function writeUrlState(state) {
  clearTimeout(pending);
  pending = setTimeout(() => window.history.replaceState(null, "", urlFor(state)), URL_WRITE_MS);
}

/**
 * The URL fields that a saved view's state (POST /api/views) sets.
 * @param {import("./ui/viewsPanel.js").ViewState} state
 * @returns {Partial<UrlState>}
 */
export function urlOfView(state) {
  const fields = { map: state.map, q: state.query?.text || "", mode: state.query?.mode || "hybrid", sql: state.sql || "" };
  if (state.camera) Object.assign(fields, { x: state.camera.x, y: state.camera.y, zoom: state.camera.zoom });
  if (state.filters?.date_from) fields.from = state.filters.date_from.slice(0, 7);
  if (state.filters?.date_to) fields.to = state.filters.date_to.slice(0, 7);
  if (state.filters?.color) fields.color = state.filters.color;
  return fields;
}

/**
 * Month text "YYYY-MM" to the first day of that month, as the API wants.
 * @param {string|null|undefined} text
 * @returns {string|null}
 */
export function monthStart(text) {
  return text ? `${text}-01` : null;
}

/**
 * Month text "YYYY-MM" to the last day of that month.
 * @param {string|null|undefined} text
 * @returns {string|null}
 */
export function monthEnd(text) {
  if (!text) return null;
  const [year, month] = text.split("-").map(Number);
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `${text}-${String(last).padStart(2, "0")}`;
}
