// A query's footprint as a heat layer under the points (GET /api/maps/{map}/footprint): one square
// per non-empty cell of the quadtree level z, coloured by the best (or mean) similarity of its
// papers to the query — or, with a second query, by the difference — with a legend. The layer
// lives in map coordinates inside the view's world container, below the points, so it pans and
// zooms with them and costs nothing per frame.

import * as d3 from "d3";
import { Graphics } from "pixi.js";

import { element } from "../format.js";

// 28-byte records, little-endian (app/services/footprint.py)
const RECORD_BYTES = 28;

export function decodeFootprintGrid(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  const cells = [];
  for (let offset = 0; offset + RECORD_BYTES <= bytes.length; offset += RECORD_BYTES) {
    cells.push({
      cx: view.getUint16(offset, true), cy: view.getUint16(offset + 2, true),
      papers: view.getUint32(offset + 4, true), best: view.getFloat32(offset + 8, true),
      mean: view.getFloat32(offset + 12, true), bestPaper: view.getUint32(offset + 16, true),
      bestB: view.getFloat32(offset + 20, true), meanB: view.getFloat32(offset + 24, true),
    });
  }
  return cells;
}

/** The quadtree level of the cells for a camera zoom: cells of about 20-40 px on screen, levels 3 to 7. */
export function footprintLevel(cameraZoom) {
  return Math.max(3, Math.min(7, Math.round(cameraZoom) + 5));
}

export class FootprintLayer {
  constructor(view, legendElement) {
    this.view = view;
    this.legendElement = legendElement;
    this.graphics = new Graphics();
    this.graphics.label = "footprint";
    view.world.addChildAt(this.graphics, 0); // under the points
    this.answer = null;
    this.cells = [];
    this.measure = "best";
  }

  /** Draw an answer of /footprint; measure "best" or "mean"; with a comparison, the difference. */
  show(answer, measure = this.measure) {
    this.answer = answer;
    this.measure = measure;
    this.cells = decodeFootprintGrid(answer.grid);
    const quad = this.view.map.quadtree;
    const size = quad.extent / 2 ** answer.z;
    const compare = Boolean(answer.compare);
    const cellValue = (c) => (compare
      ? (measure === "best" ? c.best - c.bestB : c.mean - c.meanB)
      : (measure === "best" ? c.best : c.mean));
    const values = this.cells.map(cellValue);
    let domain;
    let colour;
    if (compare) {
      const m = Math.max(1e-6, d3.max(values, Math.abs) ?? 1);
      domain = [-m, m];
      colour = d3.scaleDiverging([-m, 0, m], (t) => d3.interpolateRdBu(1 - t));
    } else {
      domain = [d3.min(values) ?? 0, d3.max(values) ?? 1];
      colour = d3.scaleSequential(domain, d3.interpolateInferno);
    }
    this.colour = colour;
    this.domain = domain;
    const g = this.graphics;
    g.clear();
    this.cells.forEach((c, i) => {
      const rgb = d3.rgb(colour(values[i]));
      g.rect(quad.origin_x + c.cx * size, quad.origin_y + c.cy * size, size, size)
        .fill({ color: (rgb.r << 16) | (rgb.g << 8) | rgb.b, alpha: 0.6 });
    });
    this.renderLegend();
    this.view.invalidate();
  }

  /** The cell with the largest best similarity (first query): {cx, cy, bestPaper, x0, y0, x1, y1}. */
  hottest() {
    if (!this.cells.length) return null;
    const cell = this.cells.reduce((a, b) => (b.best > a.best ? b : a));
    const quad = this.view.map.quadtree;
    const size = quad.extent / 2 ** this.answer.z;
    const x0 = quad.origin_x + cell.cx * size;
    const y0 = quad.origin_y + cell.cy * size;
    return { ...cell, x0, y0, x1: x0 + size, y1: y0 + size };
  }

  renderLegend() {
    const answer = this.answer;
    const ramp = element("div", { class: "footprint-ramp" });
    ramp.style.background = `linear-gradient(to right, ${d3.range(0, 1.0001, 0.1)
      .map((t) => this.colour(this.domain[0] + t * (this.domain[1] - this.domain[0]))).join(", ")})`;
    const what = answer.compare
      ? `${this.measure} similarity: “${label(answer.query)}” minus “${label(answer.compare)}” (red: first closer)`
      : `${this.measure} similarity to “${label(answer.query)}”, per cell`;
    const topics = (answer.topics || []).slice(0, 5).map((t) => element("li", {},
      `${t.label}: ${Math.round(t.share * 100)}% of ${t.papers} papers ≥ ${answer.threshold}`));
    this.legendElement.replaceChildren(
      element("div", { class: "footprint-legend" },
        element("strong", { text: "Footprint" }), ` ${what}`,
        ramp,
        element("div", { class: "footprint-scale" },
          element("span", { text: this.domain[0].toFixed(2) }), element("span", { text: this.domain[1].toFixed(2) })),
        element("p", { class: "status", text: `${answer.cells} cells, ${answer.papers.toLocaleString("en")} papers (all of the map)` }),
        topics.length ? element("div", {}, element("em", { text: "Topics it covers most" }), element("ol", { class: "footprint-topics" }, topics)) : null));
    this.legendElement.hidden = false;
  }

  clear() {
    this.graphics.clear();
    this.answer = null;
    this.cells = [];
    this.legendElement.hidden = true;
    this.legendElement.replaceChildren();
    this.view.invalidate();
  }
}

function label(query) {
  if (query.sql !== undefined && query.sql !== null) return `the SQL layer's ${query.layer.papers} papers`;
  return query.q || query.paper;
}
