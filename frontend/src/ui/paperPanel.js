// The pinned paper: a click (or a tap) on a point, a result or a row pins it; the panel shows its
// details and similar papers, the map a ring on it and lines to its neighbours. It subscribes to the
// map's "click" and "hover" (when the pointer leaves a point, the pinned paper's lines come back) and
// sets the layers "pinned" and "neighborLines" and the state "paper" (its arXiv id, for the URL).
// `decorate` lets an extension add to the details (explain/: "Explain neighbours").

import { api } from "../api.js";
import { FLY_ZOOM } from "../constants.js";
import { element } from "../format.js";
import { onMap } from "../papers.js";
import { paperDetails } from "./panel.js";

/** @typedef {import("../types.js").Pinned} Pinned */

export class PaperPanel {
  /**
   * @param {{atlasMap: import("../atlasMap.js").AtlasMap, panel: import("./panel.js").Panel,
   *   papers: import("../papers.js").PaperStore, progress: import("./progress.js").Progress,
   *   status: (text: string) => void}} options
   */
  constructor({ atlasMap, panel, papers, progress, status }) {
    this.atlasMap = atlasMap;
    this.panel = panel;
    this.papers = papers;
    this.progress = progress;
    this.status = status;
    /** @type {Pinned|null} */
    this.pinned = null;
    /** @type {(node: HTMLElement, pinned: Pinned) => HTMLElement} adds to the details; the explain features set it */
    this.decorate = (node) => node;
    this.off = [
      atlasMap.subscribe("click", ({ key }) => (key ? this.pinKey(key) : null)),
      atlasMap.subscribe("hover", ({ key }) => (key ? null : this.showNeighbourLines())),
      panel.onClose("paper", () => this.unpin()),
    ];
  }

  /**
   * Pin the paper of a point's key.
   * @param {number} key
   */
  async pinKey(key) {
    const [record] = await this.papers.recordsOf([key]);
    if (record) await this.pin(record.arxiv_id, { fly: false });
  }

  /**
   * Pin a paper: details in the panel, its neighbours linked; fly there when asked.
   * @param {string} arxivId
   * @param {{fly?: boolean}} [options]
   */
  async pin(arxivId, { fly = true } = {}) {
    try {
      const paper = await this.progress.track("paper", api.paper(arxivId));
      const position = paper.maps.find((m) => m.map === this.atlasMap.get("map").name);
      this.pinned = { paper, neighbors: null, x: position?.x, y: position?.y };
      this.atlasMap.set("pinned", position ? { x: position.x, y: position.y } : null);
      this.render();
      const camera = this.atlasMap.get("view").camera;
      if (fly && position) camera.flyTo(position.x, position.y, Math.max(FLY_ZOOM, camera.zoom()));
      this.atlasMap.set("paper", paper.arxiv_id);
      const neighbors = await this.papers.neighborsOf(paper.arxiv_id);
      if (this.pinned?.paper.arxiv_id !== paper.arxiv_id) return;
      this.pinned.neighbors = neighbors;
      this.render();
      this.showNeighbourLines();
    } catch (error) {
      this.status(`Paper ${arxivId}: ${error.message}`);
    }
  }

  /** The pinned paper in the panel. */
  render() {
    const pinned = this.pinned;
    const onChoose = (n) => this.pin(n.arxiv_id, { fly: true });
    const onHover = (n) => this.atlasMap.set("focusKey", n ? n.key : null);
    this.panel.open("paper", () => this.decorate(paperDetails(pinned.paper, pinned.neighbors, { onChoose, onHover }), pinned));
    if (!pinned.x && pinned.x !== 0) {
      this.panel.body.prepend(element("p", { class: "status", text: `This paper is not on the map ${this.atlasMap.get("map").name}.` }));
    }
  }

  /** Lines from the pinned paper to its neighbours, or none. */
  showNeighbourLines() {
    const pinned = this.pinned;
    this.atlasMap.set("neighborLines", pinned?.neighbors ? { from: [pinned.x, pinned.y], to: onMap(pinned.neighbors) } : null);
  }

  /** No pinned paper: ring, lines and panel gone. */
  unpin() {
    this.pinned = null;
    this.atlasMap.set({ pinned: null, neighborLines: null });
    this.panel.close("paper");
    this.atlasMap.set("paper", null);
  }

  /** Esc: unpin. */
  escape() {
    this.unpin();
  }

  /** Unsubscribe. */
  destroy() {
    for (const off of this.off) off();
  }
}
