// Lasso selection: in select mode (or with Shift held), dragging on the map draws a free-hand
// outline; a short drag is a box. The outline is handed over in screen pixels when the drag ends.

import * as d3 from "d3";

/** A free-hand (or box) outline drawn over the map, handed over in screen pixels. */
export class Lasso {
  /**
   * @param {HTMLElement} mapElement  where a drag starts
   * @param {SVGSVGElement} svg  where the outline is drawn (holds one path)
   * @param {{isActive: () => boolean, onSelect: (outline: number[][]) => void}} options
   *   isActive: select mode is on (Shift works anyway); onSelect: the outline, in screen pixels
   */
  constructor(mapElement, svg, { isActive, onSelect }) {
    this.mapElement = mapElement;
    this.svg = svg;
    this.path = svg.querySelector("path");
    this.isActive = isActive;
    this.onSelect = onSelect;
    this.outline = null;
    this.handlers = {
      start: (event) => this.start(event),
      extend: (event) => this.extend(event),
      finish: () => this.finish(),
    };
    mapElement.addEventListener("pointerdown", this.handlers.start, true);
    window.addEventListener("pointermove", this.handlers.extend);
    window.addEventListener("pointerup", this.handlers.finish);
  }

  /** Remove its DOM listeners. */
  destroy() {
    this.mapElement.removeEventListener("pointerdown", this.handlers.start, true);
    window.removeEventListener("pointermove", this.handlers.extend);
    window.removeEventListener("pointerup", this.handlers.finish);
    this.outline = null;
    this.draw();
  }

  /** @param {PointerEvent} event */
  start(event) {
    if (!(this.isActive() || event.shiftKey) || event.button) return;
    event.preventDefault();
    event.stopPropagation();
    this.outline = [d3.pointer(event, this.svg)];
    this.draw();
  }

  /** @param {PointerEvent} event */
  extend(event) {
    if (!this.outline) return;
    const point = d3.pointer(event, this.svg);
    const last = this.outline.at(-1);
    if (Math.hypot(point[0] - last[0], point[1] - last[1]) >= 3) this.outline.push(point);
    this.draw();
  }

  /** The drag ended: hand over the outline (a box for a short straight drag), unless it is tiny. */
  finish() {
    if (!this.outline) return;
    let outline = this.outline;
    this.outline = null;
    this.draw();
    if (outline.length < 2) return;
    if (outline.length < 6) {
      // a quick straight drag: the box it spans
      const [[x0, y0], [x1, y1]] = [outline[0], outline.at(-1)];
      outline = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
    }
    if (Math.abs(d3.polygonArea(outline)) < 25) return;
    this.onSelect(outline);
  }

  /** Draw the outline (or nothing). */
  draw() {
    this.svg.classList.toggle("drawing", Boolean(this.outline));
    this.path.setAttribute("d", this.outline ? `M${this.outline.map((p) => p.join(",")).join("L")}Z` : "");
  }
}
