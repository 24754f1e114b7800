// The growth colouring and its month slider. The density of papers by month in each tile of one
// quadtree level comes once per map, binary, precomputed with the tiles (GET /api/maps/{map}/growth,
// etl/maps/growth.py). For the slider's month M every tile gets its growth: papers a month in the
// 12 months up to M against the 36 before (a rate ratio, as analytics.map_topic_growth), and each
// point takes its tile's colour: red where the region grows, blue where it shrinks; papers newer
// than M are hidden, papers of the last 12 months drawn full, older ones faded. Moving the slider
// recomputes a few hundred tile ratios and recolours the loaded points: no request.

import * as d3 from "d3";

import { getBinary } from "../api.js";
import { element } from "../format.js";

const HIDDEN = [0, 0, 0, 0];
const RECENT = 12;
const BASELINE = 36;
const MIN_PAPERS = 8; // tiles with fewer papers in the two windows stay grey: no ratio to speak of

export function decodeDensity(buffer) {
  const view = new DataView(buffer);
  const level = view.getInt32(0, true);
  const firstMonth = view.getInt32(4, true);
  const months = view.getInt32(8, true);
  const tiles = view.getInt32(12, true);
  const side = 2 ** level;
  const recordBytes = 4 + 2 * months;
  // cumulative counts per tile: cumulative[t][i] = papers of months < firstMonth + i
  const cumulative = new Map();
  for (let t = 0; t < tiles; t += 1) {
    const offset = 16 + t * recordBytes;
    const tx = view.getUint16(offset, true);
    const ty = view.getUint16(offset + 2, true);
    const sums = new Uint32Array(months + 1);
    for (let i = 0; i < months; i += 1) sums[i + 1] = sums[i] + view.getUint16(offset + 4 + 2 * i, true);
    cumulative.set(ty * side + tx, sums);
  }
  return { level, side, firstMonth, months, cumulative };
}

export class GrowthColoring {
  constructor(app, explainApi) {
    this.app = app;
    this.api = explainApi;
    this.density = null;
    this.month = null;
    this.tileColours = new Map();
    const head = document.querySelector(".legend-head");
    this.radio = element("label", {}, element("input", { type: "radio", name: "color", value: "growth" }), " growth");
    head?.append(this.radio);
    this.controls = element("div", { id: "growth-controls", class: "growth-controls", hidden: true });
    head?.after(this.controls);
    this.radio.querySelector("input").addEventListener("change", () => this.activate());
    for (const input of document.querySelectorAll("input[name=color]")) {
      if (input.value !== "growth") input.addEventListener("change", () => this.deactivate());
    }
  }

  async load() {
    if (!this.density) {
      const buffer = await getBinary(`/api/maps/${encodeURIComponent(this.app.map.name)}/growth`);
      this.density = decodeDensity(buffer);
    }
    return this.density;
  }

  async activate() {
    try {
      const density = await this.app.progress.track("growth", this.load());
      this.active = true;
      this.app.colorMode = "growth";
      const last = density.firstMonth + density.months - 1;
      this.slider = element("input", {
        id: "growth-month", type: "range", min: density.firstMonth + RECENT + BASELINE - 1, max: last, step: 1,
        value: this.month ?? last, "aria-label": "Month",
      });
      this.slider.addEventListener("input", () => this.setMonth(Number(this.slider.value)));
      this.label = element("output", { class: "growth-month-label" });
      this.ramp = element("div", { class: "growth-ramp" });
      this.ramp.style.background = `linear-gradient(to right, ${d3.range(0, 1.0001, 0.125).map((t) => d3.interpolateRdBu(1 - t)).join(", ")})`;
      this.regions = element("ol", { class: "growth-regions" });
      this.controls.replaceChildren(
        element("div", { class: "growth-slider" }, this.slider, this.label),
        this.ramp,
        element("div", { class: "growth-scale" }, element("span", { text: "÷4 shrinking" }), element("span", { text: "×4 growing" })),
        element("p", { class: "status", text: "Papers a month in the 12 months to the slider's month against the 36 before, per region; newer papers hidden." }),
        element("strong", { text: "Fastest growing regions" }), this.regions);
      this.controls.hidden = false;
      this.setMonth(Number(this.slider.value));
    } catch (error) {
      this.app.status(`Growth: ${error.message}`);
    }
  }

  deactivate() {
    if (!this.active) return;
    this.active = false;
    this.controls.hidden = true;
  }

  /** Growth of a tile at month M (tile-format month field): {ratio, papers} or null. */
  growthOf(sums, month) {
    const d = this.density;
    const at = (m) => sums[Math.max(0, Math.min(d.months, m - d.firstMonth + 1))];
    const recent = at(month) - at(month - RECENT);
    const before = at(month - RECENT) - at(month - RECENT - BASELINE);
    if (recent + before < MIN_PAPERS) return null;
    return { ratio: (recent / RECENT + 0.5 / RECENT) / (before / BASELINE + 0.5 / BASELINE), papers: recent + before };
  }

  setMonth(month) {
    this.month = month;
    const d = this.density;
    const colour = (ratio) => d3.rgb(d3.interpolateRdBu(0.5 - Math.max(-2, Math.min(2, Math.log2(ratio))) / 4));
    const growth = [];
    this.tileColours = new Map();
    for (const [tile, sums] of d.cumulative) {
      const g = this.growthOf(sums, month);
      if (!g) continue;
      const c = colour(g.ratio);
      this.tileColours.set(tile, [c.r, c.g, c.b]);
      growth.push({ tile, ...g });
    }
    const year = Math.floor((month - 1) / 12) + 1970;
    this.label.value = `${year}-${String(((month - 1) % 12) + 1).padStart(2, "0")}`;
    this.applyColoring();
    growth.sort((a, b) => b.ratio - a.ratio);
    const quad = this.app.map.quadtree;
    const size = quad.extent / d.side;
    this.regions.replaceChildren(...growth.filter((g) => g.papers >= 3 * MIN_PAPERS).slice(0, 5).map((g) => {
      const cx = quad.origin_x + ((g.tile % d.side) + 0.5) * size;
      const cy = quad.origin_y + (Math.floor(g.tile / d.side) + 0.5) * size;
      return element("li", {}, element("button", {
        type: "button", class: "growth-region",
        onclick: () => this.app.view.camera.flyTo(cx, cy, Math.max(d.level - 1, this.app.view.camera.zoom())),
      }, `×${g.ratio.toFixed(1)} · ${g.papers} papers`));
    }));
  }

  applyColoring() {
    const d = this.density;
    const quad = this.app.map.quadtree;
    const legend = this.app.legend;
    const month = this.month;
    const grey = [150, 150, 150];
    this.app.view.setColoring((category, pointMonth, x, y) => {
      if (!legend.isShown(category) || !pointMonth || pointMonth > month) return HIDDEN;
      const tx = Math.min(d.side - 1, Math.max(0, Math.floor(((x - quad.origin_x) / quad.extent) * d.side)));
      const ty = Math.min(d.side - 1, Math.max(0, Math.floor(((y - quad.origin_y) / quad.extent) * d.side)));
      const c = this.tileColours.get(ty * d.side + tx) || grey;
      return [c[0], c[1], c[2], pointMonth > month - RECENT ? 255 : 110];
    });
  }
}
