// The trust colouring: each point in the colour of its local trustworthiness, the share of its 10
// nearest papers by embedding that are also among its 10 nearest on the map (computed at build time,
// etl/maps/trust.py, and carried in every tile record). Red where the map invents the neighbourhood,
// through orange and a neutral grey, to blue where it keeps it; grey and faint where unknown (papers
// placed after the build, or a map whose tiles predate trust). Beside the legend: the mean trust of
// the topics in view (GET /api/maps/{map}/trust, the aggregation of analytics.map_topic_trust),
// least trustworthy first, each a button that flies to the topic.

import * as d3 from "d3";

import { getJson } from "../api.js";
import { element } from "../format.js";

const HIDDEN = [0, 0, 0, 0];
const UNKNOWN = [150, 150, 150, 90];
const STOPS = ["#c62828", "#f08c3a", "#a4abb3", "#1f63c6"]; // trust 0, 1/3, 2/3, 1
const ramp = d3.interpolateRgbBasis(STOPS);
const TOPICS_SHOWN = 6;

/**
 * The colour of a trust value in [0, 1]: red (0), orange, neutral grey, blue (1).
 * @param {number} trust
 * @returns {number[]} [r, g, b]
 */
export function trustColour(trust) {
  const c = d3.rgb(ramp(Math.max(0, Math.min(1, trust))));
  return [c.r, c.g, c.b];
}

export class TrustColoring {
  /** Adds the "trust" choice to the legend's colourings; `app` is main.js's AtlasApp. */
  constructor(app) {
    this.app = app;
    this.summary = null; // GET /api/maps/{map}/trust
    this.active = false;
    const head = document.querySelector(".legend-head");
    this.radio = element("label", {}, element("input", { type: "radio", name: "color", value: "trust" }), " trust");
    head?.append(this.radio);
    this.controls = element("div", { id: "trust-controls", class: "trust-controls", hidden: true });
    head?.after(this.controls);
    this.radio.querySelector("input").addEventListener("change", () => this.choose());
    for (const input of document.querySelectorAll("input[name=color]")) {
      if (input.value !== "trust") input.addEventListener("change", () => this.deactivate());
    }
    app.atlasMap.subscribe("camera", () => this.active && this.showTopicsInView());
    if (app.colorMode === "trust") this.choose(); // from the URL
  }

  /** The radio was chosen: trust colouring on, the other colourings' controls off. */
  choose() {
    this.app.explain?.growth.deactivate();
    this.app.colorMode = "trust"; // the shell publishes it to the URL
    this.activate();
  }

  async activate() {
    this.active = true;
    this.radio.querySelector("input").checked = true;
    this.applyColoring();
    const stops = d3.range(0, 1.0001, 0.1).map((t) => d3.rgb(ramp(t)).formatHex()).join(", ");
    const bar = element("div", { class: "trust-ramp" });
    bar.style.background = `linear-gradient(to right, ${stops})`;
    this.topics = element("ol", { class: "trust-topics" });
    this.mean = element("p", { class: "trust-mean" });
    this.controls.replaceChildren(
      bar,
      element("div", { class: "trust-scale" }, element("span", { text: "0 of 10" }), element("span", { text: "5" }),
        element("span", { text: "10 of 10" })),
      element("p", { class: "status", text: "Share of a paper's 10 embedding neighbours that are also its 10 nearest "
        + "2-D neighbours on the map: red, the map invents this neighbourhood; blue, it keeps it. Grey: not known "
        + "(placed after the build)." }),
      this.mean, element("strong", { text: "Least trustworthy topics in view" }), this.topics);
    this.controls.hidden = false;
    if (!this.app.map.tile_record || this.app.map.tile_record < 13) {
      this.mean.textContent = "This map's tiles predate trust: `atlas build` rewrites them with it.";
    }
    try {
      this.summary ??= await this.app.progress.track("trust", getJson(`/api/maps/${encodeURIComponent(this.app.map.name)}/trust`));
      if (this.active) this.showTopicsInView();
    } catch (error) {
      this.app.status(`Trust: ${error.message}`);
    }
  }

  deactivate() {
    if (!this.active) return;
    this.active = false;
    this.controls.hidden = true;
  }

  /** Colour every loaded point by its trust (main.js calls this for colorMode "trust"). */
  applyColoring() {
    const legend = this.app.legend;
    this.app.view.setColoring((category, _month, _x, _y, trust) => {
      if (!legend.isShown(category)) return HIDDEN;
      return Number.isNaN(trust) || trust === undefined ? UNKNOWN : [...trustColour(trust), 255];
    });
    this.app.legend.showYears(null);
  }

  /** The topics whose labels are on screen (or, before any label, whose centre is in view), at the
   * labels' level: their mean trust, weighted by papers, and the least trustworthy of them. */
  showTopicsInView() {
    if (!this.summary || !this.topics) return;
    const camera = this.app.view.camera;
    const level = this.app.labels.levelForZoom(camera.zoom());
    const labelled = new Set(this.app.labels.visible);
    const [width, height] = camera.size();
    const atLevel = this.summary.topics.filter((t) => t.level === level && t.mean_trust !== null);
    let inView = atLevel.filter((t) => labelled.has(`${t.level}/${t.topic}`));
    if (!inView.length) {
      inView = atLevel.filter((t) => {
        const [sx, sy] = camera.toScreen(t.x, t.y);
        return sx >= 0 && sy >= 0 && sx < width && sy < height;
      });
    }
    if (this.summary.mean_trust === null) {
      this.mean.textContent = "No trust is known on this map yet: `atlas build` computes it.";
      return;
    }
    const papers = d3.sum(inView, (t) => t.papers_with_trust);
    const mean = papers ? d3.sum(inView, (t) => t.mean_trust * t.papers_with_trust) / papers : NaN;
    this.mean.textContent = Number.isNaN(mean)
      ? `Whole map: mean trust ${this.summary.mean_trust.toFixed(2)}.`
      : `Topics in view (${inView.length}): mean trust ${mean.toFixed(2)}; whole map ${this.summary.mean_trust.toFixed(2)}.`;
    this.topics.replaceChildren(...[...inView].sort((a, b) => a.mean_trust - b.mean_trust).slice(0, TOPICS_SHOWN)
      .map((t) => element("li", { "data-topic": `${t.level}/${t.topic}` }, swatch(t.mean_trust),
        element("button", {
          type: "button", class: "trust-topic", title: `${t.papers_with_trust} papers; ${Math.round(100 * t.low_trust_share)}% below 0.3`,
          onclick: () => camera.flyTo(t.x, t.y, Math.max(camera.zoom(), t.level + 2)),
        }, `${t.label || `topic ${t.topic}`} · ${t.mean_trust.toFixed(2)}`))));
  }
}

function swatch(trust) {
  const node = element("span", { class: "trust-swatch" });
  node.style.background = d3.rgb(...trustColour(trust)).formatHex();
  return node;
}
