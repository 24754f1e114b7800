// Legend and category filter: the map's categories grouped by archive (largest first), each a checkbox (multi-select);
// an archive's box switches all of its categories. In year colouring a colour ramp with years shows too.

import * as d3 from "d3";

import { archiveOf, cssColour } from "../colors.js";
import { element } from "../format.js";

/** The categories of the map, grouped by archive, each a checkbox. */
export class Legend {
  /**
   * @param {HTMLElement} body
   * @param {{categories: string[], names: Map<string, string>, palette: number[][], counts: Map<string, number>,
   *   onChange: () => void}} options  categories: the map's codes (tile category i + 1 is categories[i]);
   *   palette: [r, g, b] per category; counts: papers per code; onChange: the categories shown changed
   */
  constructor(body, { categories, names, palette, counts, onChange }) {
    this.body = body;
    this.categories = categories; // map category codes, index i <-> tile category i + 1
    this.names = names; // code -> long name
    this.palette = palette;
    this.counts = counts; // code -> papers
    this.onChange = onChange;
    this.selected = new Set(categories.map((_, i) => i + 1));
    this.expanded = new Set();
    this.yearRange = null;
  }

  /**
   * Restore from the URL: `only` (shown codes) or `hide` (hidden codes).
   * @param {string[]|null} only
   * @param {string[]|null} hide
   */
  restore(only, hide) {
    if (only) this.selected = new Set(only.map((c) => this.categories.indexOf(c) + 1).filter((i) => i > 0));
    else if (hide) {
      for (const code of hide) this.selected.delete(this.categories.indexOf(code) + 1);
    }
  }

  /**
   * For the URL: the shorter of `only` and `hide`; both null when everything shows.
   * @returns {{only: string[]|null, hide: string[]|null}}
   */
  urlLists() {
    const shown = this.categories.filter((_, i) => this.selected.has(i + 1));
    if (shown.length === this.categories.length) return { only: null, hide: null };
    const hidden = this.categories.filter((_, i) => !this.selected.has(i + 1));
    return shown.length <= hidden.length ? { only: shown, hide: null } : { only: null, hide: hidden };
  }

  /**
   * @param {number} index  a tile's category field (0: none, shown only when every category is)
   * @returns {boolean}
   */
  isShown(index) {
    return index === 0 ? this.selected.size === this.categories.length : this.selected.has(index);
  }

  /** @param {boolean} shown  every category, or none */
  setAll(shown) {
    this.selected = new Set(shown ? this.categories.map((_, i) => i + 1) : []);
    this.changed();
  }

  /** The categories shown changed: draw again and tell. */
  changed() {
    this.render();
    this.onChange();
  }

  /** @param {number[]|null} range  [first, last] year of the year colouring's ramp, null for none */
  showYears(range) {
    this.yearRange = range;
    this.render();
  }

  /** Draw the legend's rows. */
  render() {
    const groups = d3.group(this.categories.map((code, i) => ({ code, index: i + 1 })), (c) => archiveOf(c.code));
    const nodes = [];
    if (this.yearRange) nodes.push(this.yearRamp(...this.yearRange));
    const single = groups.size === 1;
    // Archives with the most papers first: the big ones lead, old archives with a handful follow.
    const ordered = [...groups].sort(([, a], [, b]) => d3.sum(b, (m) => this.counts.get(m.code) || 0)
      - d3.sum(a, (m) => this.counts.get(m.code) || 0));
    for (const [archive, members] of ordered) {
      const onCount = members.filter((m) => this.selected.has(m.index)).length;
      const rows = members.map((m) => this.categoryRow(m));
      if (single) {
        nodes.push(...rows);
        continue;
      }
      const box = element("input", { type: "checkbox", "aria-label": `show ${archive}` });
      box.checked = onCount === members.length;
      box.indeterminate = onCount > 0 && onCount < members.length;
      box.addEventListener("change", () => {
        for (const m of members) (box.checked ? this.selected.add(m.index) : this.selected.delete(m.index));
        this.changed();
      });
      const open = this.expanded.has(archive);
      const papers = d3.sum(members, (m) => this.counts.get(m.code) || 0);
      const toggle = element("button", { type: "button", class: "archive-toggle", "aria-expanded": String(open),
        onclick: () => { (open ? this.expanded.delete(archive) : this.expanded.add(archive)); this.render(); } },
      open ? "▾" : "▸");
      nodes.push(element("div", { class: "legend-archive", "data-archive": archive },
        element("div", { class: "legend-row archive-row" }, toggle,
          element("label", {}, box, element("span", { class: "swatch", style: `background:${cssColour(this.palette[members[0].index - 1])}` }),
            element("span", { class: "legend-name", text: archive }), element("span", { class: "legend-count", text: papers.toLocaleString() }))),
        open ? element("div", { class: "legend-members" }, rows) : null));
    }
    this.body.replaceChildren(...nodes);
  }

  /**
   * @param {{code: string, index: number}} category
   * @returns {HTMLElement}
   */
  categoryRow({ code, index }) {
    const box = element("input", { type: "checkbox", "data-category": code, "aria-label": `show ${code}` });
    box.checked = this.selected.has(index);
    box.addEventListener("change", () => {
      (box.checked ? this.selected.add(index) : this.selected.delete(index));
      this.changed();
    });
    const count = this.counts.get(code);
    return element("label", { class: "legend-row", title: this.names.get(code) || code }, box,
      element("span", { class: "swatch", style: `background:${cssColour(this.palette[index - 1])}` }),
      element("span", { class: "legend-name", text: `${code}` }),
      element("span", { class: "legend-long", text: this.names.get(code) || "" }),
      count ? element("span", { class: "legend-count", text: count.toLocaleString() }) : null);
  }

  /**
   * @param {number} first
   * @param {number} last
   * @returns {HTMLElement} the year colouring's ramp with three ticks
   */
  yearRamp(first, last) {
    const stops = d3.range(0, 1.0001, 0.1).map((t) => `${d3.interpolateViridis(t)} ${Math.round(t * 100)}%`).join(", ");
    return element("div", { class: "year-ramp" },
      element("div", { class: "ramp", style: `background: linear-gradient(to right, ${stops})` }),
      element("div", { class: "ramp-ticks" }, element("span", { text: String(Math.floor(first)) }),
        element("span", { text: String(Math.round((first + last) / 2)) }), element("span", { text: String(Math.floor(last)) })));
  }
}
