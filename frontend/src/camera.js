// The camera: d3-zoom on the map element (drag to pan, wheel about the cursor, trackpad and touch
// pinch, double-click), smooth transitions for flights, and the mapping between screen pixels and
// map coordinates. `zoom` in the URL is log2 of the scale relative to the map fitted to the screen.

import * as d3 from "d3";

import { FLY_ZOOM, FRAME_DURATION_MS, MAX_ZOOM_BEYOND_TILES, TILE_SCREEN_PIXELS } from "./constants.js";

/** @typedef {{left: number, top: number, right: number, bottom: number}} Insets */

export class Camera {
  /**
   * @param {HTMLElement} element  the map's container (d3-zoom listens on it)
   * @param {import("./types.js").MapInfo} map
   * @param {{onChange: (event: any) => void, filter: (event: Event) => boolean}} options
   *   filter: which gestures d3-zoom takes
   */
  constructor(element, map, { onChange, filter }) {
    this.element = element;
    this.map = map;
    this.onChange = onChange;
    this.transform = d3.zoomIdentity;
    const [minX, minY, maxX, maxY] = map.bounds;
    this.centre = [(minX + maxX) / 2, (minY + maxY) / 2];
    this.span = [Math.max(maxX - minX, 1e-9), Math.max(maxY - minY, 1e-9)];
    /** @type {() => Insets} edges under fixed panels */
    this.insets = () => ({ left: 0, top: 0, right: 0, bottom: 0 });
    /** @type {() => Insets} the same, with the side panel when it is open */
    this.focusInsets = () => this.insets();
    this.behavior = d3
      .zoom()
      .filter(filter)
      .wheelDelta((event) => -event.deltaY * (event.deltaMode === 1 ? 0.05 : event.deltaMode ? 1 : 0.002) * (event.ctrlKey ? 5 : 1))
      .on("zoom", (event) => {
        this.transform = event.transform;
        this.onChange(event);
      });
    this.selection = d3.select(element).call(this.behavior);
    this.resize();
  }

  /** @returns {number[]} [width, height] in pixels */
  size() {
    return [this.element.clientWidth || 1, this.element.clientHeight || 1];
  }

  /** @returns {number[]} the part of the screen not covered by panels: [left, top, width, height] */
  clearArea() {
    const [width, height] = this.size();
    const inset = this.insets();
    const w = width - inset.left - inset.right;
    const h = height - inset.top - inset.bottom;
    return w > width / 3 && h > height / 3 ? [inset.left, inset.top, w, h] : [0, 0, width, height];
  }

  /** @returns {number} scale (pixels per map unit) at which the whole map fits the clear part of the screen */
  fitScale() {
    const [, , width, height] = this.clearArea();
    return 0.94 * Math.min(width / this.span[0], height / this.span[1]);
  }

  /** The zoom and pan limits after the screen changed size. */
  resize() {
    const fit = this.fitScale();
    const finest = (this.map.quadtree.extent * fit) / 2 ** this.map.max_level;
    const maxScale = Math.max(fit * 8, ((TILE_SCREEN_PIXELS * 2 ** MAX_ZOOM_BEYOND_TILES) / finest) * fit);
    this.behavior.scaleExtent([fit / 4, maxScale]);
    const [width, height] = this.size();
    const pad = Math.max(width, height);
    const [minX, minY, maxX, maxY] = this.map.bounds;
    this.behavior.translateExtent([
      [minX - pad / fit, minY - pad / fit],
      [maxX + pad / fit, maxY + pad / fit],
    ]);
  }

  /**
   * @param {number[]} centre  map coordinates
   * @param {number} zoom
   * @param {number[]|null} [anchor]  where on screen the centre goes (the middle by default)
   * @returns {import("d3").ZoomTransform}
   */
  transformFor(centre, zoom, anchor = null) {
    const [width, height] = this.size();
    const [ax, ay] = anchor || [width / 2, height / 2];
    const k = this.fitScale() * 2 ** zoom;
    return d3.zoomIdentity.translate(ax, ay).scale(k).translate(-centre[0], -centre[1]);
  }

  /**
   * Jump (duration 0) or fly to a centre and zoom.
   * @param {number[]} centre  map coordinates
   * @param {number} zoom
   * @param {number} [duration]  ms
   * @param {number[]|null} [anchor]  where on screen the centre goes
   */
  go(centre, zoom, duration = 0, anchor = null) {
    const target = this.transformFor(centre, zoom, anchor);
    if (duration > 0) {
      this.selection.transition().duration(duration).ease(d3.easeCubicInOut).call(this.behavior.transform, target);
    } else {
      this.selection.interrupt().call(this.behavior.transform, target);
    }
  }

  /**
   * A flight to a point, centred in the part of the screen the panels leave free; it keeps the current
   * zoom if it is already close enough, else zooms in.
   * @param {number} x
   * @param {number} y
   * @param {number} [minZoom]
   */
  flyTo(x, y, minZoom = FLY_ZOOM) {
    const [width, height] = this.size();
    const inset = this.focusInsets();
    const anchor = [(inset.left + width - inset.right) / 2, (inset.top + height - inset.bottom) / 2];
    this.go([x, y], Math.max(this.zoom(), minZoom), 900, anchor);
  }

  /**
   * Frame points in the part of the screen the open panels leave free (focusInsets), so that a panel
   * never hides what it talks about. Points: [{x, y}]; nothing happens for none.
   * @param {Array<{x: number, y: number}>} points
   * @param {number} duration ms
   */
  frame(points, duration = FRAME_DURATION_MS) {
    if (!points.length) return;
    const [width, height] = this.size();
    const inset = this.focusInsets();
    const free = [Math.max(40, width - inset.left - inset.right), Math.max(40, height - inset.top - inset.bottom)];
    const xs = points.map((p) => p.x);
    const ys = points.map((p) => p.y);
    const box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    const span = [Math.max(box[2] - box[0], this.span[0] / 40), Math.max(box[3] - box[1], this.span[1] / 40)];
    const scale = 0.8 * Math.min(free[0] / span[0], free[1] / span[1]);
    const zoom = Math.max(0, Math.min(Math.log2(scale / this.fitScale()), 6));
    const anchor = [inset.left + free[0] / 2, inset.top + free[1] / 2];
    this.go([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], zoom, duration, anchor);
  }

  /**
   * Zoom by a factor about the centre of the screen, smoothly.
   * @param {number} factor
   */
  zoomBy(factor) {
    this.selection.transition().duration(300).ease(d3.easeCubicOut).call(this.behavior.scaleBy, factor);
  }

  /**
   * The whole map, fitted into the clear part of the screen.
   * @param {number} [duration]  ms
   */
  home(duration = 0) {
    const [left, top, width, height] = this.clearArea();
    const k = this.fitScale();
    const target = d3.zoomIdentity.translate(left + width / 2, top + height / 2).scale(k).translate(-this.centre[0], -this.centre[1]);
    const selection = duration > 0 ? this.selection.transition().duration(duration) : this.selection.interrupt();
    selection.call(this.behavior.transform, target);
  }

  /** @returns {number} log2 of the scale relative to the map fitted to the screen */
  zoom() {
    return Math.log2(this.transform.k / this.fitScale());
  }

  /** @returns {number[]} the map coordinates at the middle of the screen */
  viewCentre() {
    const [width, height] = this.size();
    return this.transform.invert([width / 2, height / 2]);
  }

  /**
   * The box of map coordinates on screen, with a margin.
   * @param {number} [margin]  in screen fractions
   * @returns {number[]} [minX, minY, maxX, maxY]
   */
  viewBox(margin = 0) {
    const [width, height] = this.size();
    const [x0, y0] = this.transform.invert([-margin * width, -margin * height]);
    const [x1, y1] = this.transform.invert([(1 + margin) * width, (1 + margin) * height]);
    return [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
  }

  /** @returns {number} the finest tile level to draw now: tiles about TILE_SCREEN_PIXELS wide */
  tileLevel() {
    const tilePixels = this.map.quadtree.extent * this.transform.k;
    const level = Math.ceil(Math.log2(tilePixels / TILE_SCREEN_PIXELS));
    return Math.max(0, Math.min(this.map.max_level, level));
  }

  /**
   * @param {number} x
   * @param {number} y
   * @returns {number[]} screen pixels [sx, sy]
   */
  toScreen(x, y) {
    return this.transform.apply([x, y]);
  }

  /**
   * @param {number} sx
   * @param {number} sy
   * @returns {number[]} map coordinates [x, y]
   */
  toMap(sx, sy) {
    return this.transform.invert([sx, sy]);
  }
}
