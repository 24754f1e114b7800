// The hover card: a short while after the pointer rests on a point, its card (ui/tooltip.js) and
// lines to its nearest neighbours. It subscribes to the map's "hover" and "click"; touch screens
// never hover (a tap pins, ui/paperPanel.js).

import { HOVER_DELAY_MS } from "../constants.js";
import { onMap } from "../papers.js";

/** The card and neighbour lines of the point under the pointer. */
export class HoverCard {
  /**
   * @param {{atlasMap: import("../atlasMap.js").AtlasMap, tooltip: import("./tooltip.js").Tooltip,
   *   papers: import("../papers.js").PaperStore, status: (text: string) => void}} options
   */
  constructor({ atlasMap, tooltip, papers, status }) {
    this.atlasMap = atlasMap;
    this.tooltip = tooltip;
    this.papers = papers;
    this.status = status;
    this.timer = null;
    this.key = null;
    this.off = [
      atlasMap.subscribe("hover", ({ key, point, event }) => this.hover(key, point, event)),
      atlasMap.subscribe("click", () => this.hide()),
    ];
  }

  /**
   * The pointer is over a point (key) or over none (null).
   * @param {number|null} key
   * @param {{x: number, y: number}|null} point
   * @param {PointerEvent} [event]
   */
  hover(key, point, event) {
    clearTimeout(this.timer);
    this.key = key;
    const canvas = this.atlasMap.get("view").app.canvas;
    if (!key) {
      this.tooltip.hide();
      canvas.style.cursor = "";
      return;
    }
    canvas.style.cursor = "pointer";
    if (this.tooltip.key === key) return this.tooltip.move(event.clientX, event.clientY);
    const { clientX, clientY } = event;
    this.timer = setTimeout(async () => {
      try {
        const [record] = await this.papers.recordsOf([key]);
        if (!record || this.key !== key) return;
        this.tooltip.show(record, clientX, clientY);
        const neighbors = await this.papers.neighborsOf(record.arxiv_id);
        if (this.tooltip.key === key) this.atlasMap.set("neighborLines", { from: [point.x, point.y], to: onMap(neighbors) });
      } catch (error) {
        this.status(error.message);
      }
    }, HOVER_DELAY_MS);
  }

  /** Hide the card (a click, Esc). */
  hide() {
    clearTimeout(this.timer);
    this.tooltip.hide();
  }

  /** Esc: hide the card. */
  escape() {
    this.hide();
  }

  /** Hide the card and unsubscribe. */
  destroy() {
    this.hide();
    for (const off of this.off) off();
  }
}
