// The legend's controls: colour by category or year (or a colouring an extension adds, such as
// explain/'s growth), the categories shown (ui/legend.js), the published months, the "Legend" button
// that folds it on phones, and its status line. It sets the map's colouring and the state "filters"
// (which the map applies to its tiles, the search to its hits and the URL keeps).

import { categoryPalette, yearScale } from "../colors.js";
import { DEFAULT_FIRST_YEAR, HIDDEN, NO_CATEGORY } from "../constants.js";
import { monthField, monthToYear } from "../tiles.js";
import { Legend } from "./legend.js";

/** @typedef {import("../types.js").Filters} Filters */

const $ = (id) => document.getElementById(id);

/** Colouring, categories, dates and the status line under the legend. */
export class FiltersPanel {
  /**
   * @param {{atlasMap: import("../atlasMap.js").AtlasMap, filters: Filters, names: Map<string, string>,
   *   counts: Map<string, number>, years: number[]|null}} options  `filters`: where to start (the URL's);
   *   `years`: the range of the year colouring (yearRangeOf), null for DEFAULT_FIRST_YEAR to this year
   */
  constructor({ atlasMap, filters, names, counts, years }) {
    this.atlasMap = atlasMap;
    this.categories = atlasMap.get("map").categories;
    this.years = years || [DEFAULT_FIRST_YEAR, new Date().getFullYear()];
    this.colorMode = filters.color;
    /** @type {Map<string, () => boolean>} colourings an extension adds: applies itself, or says false (not ready) */
    this.colorings = new Map();
    this.legend = new Legend($("legend-body"), {
      categories: this.categories, names, palette: categoryPalette(this.categories), counts, onChange: () => this.changed(),
    });
    this.legend.restore(filters.only, filters.hide);
    this.colorInputs = [...document.querySelectorAll("input[name=color]")];
    this.from = $("date-from");
    this.to = $("date-to");
    this.from.value = filters.from || "";
    this.to.value = filters.to || "";
    this.dates = { from: null, to: null };
    const datesTaken = this.readDates();
    this.applyColoring();
    this.publish();
    if (datesTaken) this.updateStatus();
    this.legend.render();
    this.listeners = [];
    for (const input of this.colorInputs) {
      this.listen(input, "change", () => {
        this.colorMode = input.value;
        this.applyColoring();
        this.publish();
      });
    }
    this.listen($("categories-all"), "click", () => this.legend.setAll(true));
    this.listen($("categories-none"), "click", () => this.legend.setAll(false));
    this.listen(this.from, "change", () => this.datesChanged());
    this.listen(this.to, "change", () => this.datesChanged());
    this.listen($("dates-clear"), "click", () => {
      this.from.value = "";
      this.to.value = "";
      this.datesChanged();
    });
    this.listen($("legend-button"), "click", () => {
      const open = $("legend").classList.toggle("open");
      $("legend-button").setAttribute("aria-expanded", String(open));
    });
  }

  /**
   * Add a DOM listener that destroy() removes.
   * @param {EventTarget} node
   * @param {string} event
   * @param {(event: any) => void} handler
   */
  listen(node, event, handler) {
    node.addEventListener(event, handler);
    this.listeners.push(() => node.removeEventListener(event, handler));
  }

  /** The filters as the map's state "filters" holds them. */
  publish() {
    this.atlasMap.set("filters", { from: this.dates.from, to: this.dates.to, color: this.colorMode, ...this.legend.urlLists() });
  }

  /**
   * Switch the colouring (an extension's own, such as "growth", colours the points itself).
   * @param {string} mode
   */
  setColorMode(mode) {
    this.colorMode = mode;
    this.publish();
  }

  /** Colour the points by the colouring chosen, hiding the categories left out. */
  applyColoring() {
    if (this.colorings.get(this.colorMode)?.()) return;
    const view = this.atlasMap.get("view");
    const legend = this.legend;
    if (this.colorMode === "year") {
      const [first, last] = this.years;
      const colourOfYear = yearScale(first, last);
      view.setColoring((category, month) => {
        if (!legend.isShown(category)) return HIDDEN;
        return month ? [...colourOfYear(monthToYear(month)), 255] : NO_CATEGORY;
      });
      legend.showYears([first, last]);
    } else {
      const palette = legend.palette;
      view.setColoring((category) => {
        if (!legend.isShown(category)) return HIDDEN;
        return category ? [...palette[category - 1], 255] : NO_CATEGORY;
      });
      legend.showYears(null);
    }
    for (const input of document.querySelectorAll("input[name=color]")) input.checked = input.value === this.colorMode;
  }

  /** The categories shown changed (the legend's checkboxes). */
  changed() {
    this.applyColoring();
    this.publish();
    this.updateStatus();
  }

  /**
   * Take the months of the date inputs, unless the range is upside down (then say so).
   * @returns {boolean} whether they were taken
   */
  readDates() {
    const from = this.from.value || null;
    const to = this.to.value || null;
    if (from && to && monthField(from) > monthField(to)) {
      this.status("The start month is after the end month.");
      return false;
    }
    this.dates = { from, to };
    return true;
  }

  /** The date inputs changed: a new range, unless it is upside down. */
  datesChanged() {
    if (!this.readDates()) return;
    this.publish();
    this.updateStatus();
  }

  /** What the filters leave out, under the legend. */
  updateStatus() {
    const parts = [];
    const shown = this.legend.selected.size;
    if (shown < this.categories.length) parts.push(`${shown} of ${this.categories.length} categories`);
    if (this.dates.from || this.dates.to) parts.push(`published ${this.dates.from || "…"} to ${this.dates.to || "…"}`);
    this.status(parts.length ? `Showing ${parts.join(", ")}.` : "");
  }

  /**
   * A line under the legend (also what went wrong elsewhere).
   * @param {string} text
   */
  status(text) {
    $("legend-status").textContent = text;
  }

  /** Remove its DOM listeners and the colourings extensions added. */
  destroy() {
    for (const remove of this.listeners) remove();
    this.colorings.clear();
  }
}

/**
 * The year colour scale's range, the same for every view of a map: from the overview tile (level 0,
 * a uniform sample of the whole map), its 1st percentile to its newest month; null without months.
 * @param {{month: Uint16Array}} overview  the decoded tile 0/0/0
 * @returns {number[]|null}
 */
export function yearRangeOf(overview) {
  const months = Array.from(overview.month).filter(Boolean).sort((a, b) => a - b);
  if (!months.length) return null;
  return [Math.floor(monthToYear(months[Math.floor(months.length * 0.01)])), Math.ceil(monthToYear(months.at(-1)))];
}
