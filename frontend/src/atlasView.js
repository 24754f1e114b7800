// The map view: PixiJS canvas + camera + level-of-detail tiles + hit testing + overlays.
// It knows nothing of search boxes or panels; it reports hover/click and draws what it is told.
//
// Rendering is on demand: a frame is drawn when something changed (camera, tiles, colours,
// overlays), never in an idle loop. At zoom level z it draws the tiles of levels 0..z that meet the
// view (docs/maps.md: "shown at zoom z" is "level <= z"), so any view holds a bounded number of points.

import * as d3 from "d3";
// PixiJS compiles its shader glue with `new Function` unless this is imported first: the page's CSP
// (script-src 'self', no 'unsafe-eval'; app/api/security.py) forbids that.
import "pixi.js/unsafe-eval";
import { Application, Container, Graphics } from "pixi.js";

import { Camera } from "./camera.js";
import { HIT_RADIUS_PIXELS } from "./constants.js";
import { LAYERS } from "./layers.js";
import { PointLayer } from "./pointLayer.js";
import { TileStore } from "./tileStore.js";
import { tilesInView } from "./tiles.js";

/**
 * @typedef {object} ViewHandlers
 * @property {() => void} [onCamera]
 * @property {(key: number|null, point: object|null, event?: PointerEvent) => void} [onHover]
 * @property {(key: number|null, point: object|null) => void} [onClick]
 * @property {(pending: number, done: number) => void} [onProgress]
 * @property {(error: Error) => void} [onError]
 */

export class AtlasView {
  /**
   * @param {HTMLElement} element  the container the canvas fills
   * @param {import("./types.js").MapInfo} map
   * @param {ViewHandlers} handlers
   */
  constructor(element, map, handlers) {
    this.element = element;
    this.map = map;
    this.handlers = handlers; // onCamera, onHover(key|null, point), onClick(key|null), onProgress, onError
    this.layers = [...LAYERS]; // overlay layers above the points (layers.js)
    // What the layers draw: neighborLines {from, to}, highlights [{x, y, key}], sqlLayer [{x, y, key}],
    // focusKey (drawn stronger), pinned {x, y}, placed {x, y}.
    this.layerState = { neighborLines: null, highlights: [], sqlLayer: [], focusKey: null, pinned: null, placed: null };
    this.hitIndex = null;
    this.dirty = true;
    this.frame = 0;
    this.stats = { frames: 0, lastFrameMs: 0, firstPointsFrameMs: null, frameTimes: [], drawnPoints: 0, tiles: 0 };
    this.measureFrames = false;
  }

  /**
   * Start PixiJS, the tiles and the camera.
   * @param {import("./types.js").Theme} theme
   * @param {object|null} [overview]  the decoded tile 0/0/0 when the caller has it already
   */
  async init(theme, overview = null) {
    this.app = new Application();
    await this.app.init({
      resizeTo: this.element,
      preference: "webgl",
      antialias: false,
      autoStart: false,
      autoDensity: true,
      resolution: Math.min(window.devicePixelRatio || 1, 2),
      background: theme.background,
      preserveDrawingBuffer: true, // screenshots and pixel checks read the canvas
    });
    this.app.ticker.stop();
    this.element.append(this.app.canvas);
    this.world = new Container();
    this.points = new PointLayer();
    this.world.addChild(this.points.container);
    this.overlay = new Graphics();
    this.app.stage.addChild(this.world, this.overlay);
    this.theme = theme;

    this.tiles = new TileStore(this.map, {
      onLoaded: () => this.refreshTiles(),
      onProgress: (pending, done) => this.handlers.onProgress?.(pending, done),
      onError: (error) => this.handlers.onError?.(error),
    });
    if (overview) this.tiles.keepUnfiltered(0, 0, 0, overview);
    this.camera = new Camera(this.element, this.map, {
      filter: (event) => this.acceptsGesture(event),
      onChange: () => this.cameraChanged(),
    });
    this.lassoActive = false;
    this.listen();
    this.resizeObserver = new ResizeObserver(() => {
      this.app.resize();
      this.camera.resize();
      this.cameraChanged();
    });
    this.resizeObserver.observe(this.element);
  }

  /** Stop drawing and listening, and free the canvas. */
  destroy() {
    this.tiles?.destroy();
    this.resizeObserver?.disconnect();
    cancelAnimationFrame(this.frame);
    this.camera?.selection.on(".zoom", null);
    this.app?.destroy(true, { children: true });
  }

  /**
   * d3-zoom handles drags unless a lasso is being drawn (select mode or Shift).
   * @param {Event & {shiftKey?: boolean, ctrlKey?: boolean, button?: number}} event
   * @returns {boolean}
   */
  acceptsGesture(event) {
    if (this.lassoActive || event.shiftKey) return false;
    return (!event.ctrlKey || event.type === "wheel") && !event.button;
  }

  /** Hover and click (a short press without a drag) on the canvas, reported to the handlers. */
  listen() {
    const canvas = this.app.canvas;
    let down = null;
    canvas.addEventListener("pointermove", (event) => {
      if (event.pointerType === "touch") return; // no hover on touch screens: tap pins
      const [sx, sy] = d3.pointer(event, canvas);
      const hit = this.hitTest(sx, sy);
      this.handlers.onHover?.(hit ? hit.key : null, hit, event);
    });
    canvas.addEventListener("pointerleave", () => this.handlers.onHover?.(null, null));
    canvas.addEventListener("pointerdown", (event) => {
      down = [event.clientX, event.clientY];
    });
    canvas.addEventListener("pointerup", (event) => {
      if (!down || Math.hypot(event.clientX - down[0], event.clientY - down[1]) > 5) return;
      const [sx, sy] = d3.pointer(event, canvas);
      const hit = this.hitTest(sx, sy, event.pointerType === "touch" ? 2.5 : 1);
      this.handlers.onClick?.(hit ? hit.key : null, hit);
    });
  }

  /** @param {import("./types.js").Theme} theme */
  setTheme(theme) {
    this.theme = theme;
    this.app.renderer.background.color = theme.background;
    this.invalidate();
  }

  /**
   * How every point is coloured: colorOf(category, month, x, y) answers [r, g, b, a] 0-255 (a 0 hides it).
   * @param {(category: number, month: number, x: number, y: number) => number[]} colorOf
   */
  setColoring(colorOf) {
    this.points.setColoring(colorOf);
    this.hitIndex = null;
    this.invalidate();
  }

  /**
   * Draw only the papers of these dates (the server filters each tile's box).
   * @param {{from: string|null, to: string|null}} filter  ISO dates
   */
  setDateFilter(filter) {
    this.tiles.setFilter(filter);
    this.refreshTiles();
  }

  /** The world follows the camera; points grow past the finest tiles; tiles and listeners hear of it. */
  cameraChanged() {
    const t = this.camera.transform;
    this.world.position.set(t.x, t.y);
    this.world.scale.set(t.k);
    // Points grow a little when zoomed past the finest tiles, so sparse views stay readable.
    const beyond = Math.max(0, Math.log2((this.map.quadtree.extent * t.k) / 2 ** this.map.max_level / 512));
    this.points.setPointSize(Math.min(9, (3 + beyond) * this.app.renderer.resolution));
    this.refreshTiles();
    this.handlers.onCamera?.();
  }

  /** Ask for the tiles of the view and show those loaded (coarse levels first). */
  refreshTiles() {
    const level = this.camera.tileLevel();
    const box = this.camera.viewBox(0.1);
    const wanted = [];
    if (this.tiles.filtered) {
      wanted.push(...tilesInView(this.map.quadtree, level, box));
    } else {
      for (let z = 0; z <= level; z += 1) wanted.push(...tilesInView(this.map.quadtree, z, box));
    }
    const ready = this.tiles.want(wanted);
    this.points.show(ready);
    this.stats.tiles = ready.length;
    this.hitIndex = null;
    this.invalidate();
  }

  /** Draw a frame soon (once, however often it is asked before). */
  invalidate() {
    this.dirty = true;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  /** Draw a frame if something changed since the last one (on demand, never in an idle loop). */
  render() {
    this.frame = 0;
    if (!this.dirty) return;
    this.dirty = false;
    this.drawOverlay();
    const start = performance.now();
    this.app.renderer.render(this.app.stage);
    if (this.measureFrames) {
      this.app.renderer.gl?.finish(); // count the GPU's (here software) work, not only the call
    }
    const took = performance.now() - start;
    this.stats.frames += 1;
    this.stats.lastFrameMs = took;
    if (this.measureFrames) this.stats.frameTimes.push(took);
    this.stats.drawnPoints = this.points.drawnCount();
    if (this.stats.firstPointsFrameMs === null && this.stats.drawnPoints > 0) {
      this.stats.firstPointsFrameMs = performance.now();
      performance.mark("atlas-first-points-frame");
    }
  }

  /** The overlay layers (lines, rings, dots, markers), in screen pixels, redrawn with each frame. */
  drawOverlay() {
    const g = this.overlay;
    g.clear();
    for (const layer of this.layers) layer.draw(g, this.camera, this.layerState, this.theme);
  }

  /**
   * Set what one overlay layer draws (a key of layerState) and redraw.
   * @param {string} name
   * @param {any} value
   */
  setLayer(name, value) {
    this.layerState[name] = value;
    this.invalidate();
  }

  /**
   * The shown point nearest a screen position, within a few pixels.
   * @param {number} sx
   * @param {number} sy
   * @param {number} [radiusFactor]  touch hits are larger
   * @returns {{key: number, x: number, y: number, category: number, month: number}|null}
   */
  hitTest(sx, sy, radiusFactor = 1) {
    if (!this.hitIndex) this.buildHitIndex();
    const [mx, my] = this.camera.toMap(sx, sy);
    const radius = (HIT_RADIUS_PIXELS * radiusFactor) / this.camera.transform.k;
    const found = this.hitIndex.find(mx, my, radius);
    return found ? { key: found[2], x: found[0], y: found[1], category: found[3], month: found[4] } : null;
  }

  /** A quadtree of the visible points, rebuilt after the points or their colours change. */
  buildHitIndex() {
    const data = [];
    this.points.forEachVisible((p, i) => data.push([p.x[i], p.y[i], p.key[i], p.category[i], p.month[i]]));
    this.hitIndex = d3.quadtree().x((d) => d[0]).y((d) => d[1]).addAll(data);
  }

  /**
   * Visible points on screen (for tests and the debug hook).
   * @param {number} [limit]
   * @returns {Array<{key: number, sx: number, sy: number, x: number, y: number, category: number, month: number}>}
   */
  pointsOnScreen(limit = Infinity) {
    const [width, height] = this.camera.size();
    const out = [];
    this.points.forEachVisible((p, i) => {
      if (out.length >= limit) return;
      const [sx, sy] = this.camera.toScreen(p.x[i], p.y[i]);
      if (sx >= 0 && sy >= 0 && sx < width && sy < height) {
        out.push({ key: p.key[i], sx, sy, x: p.x[i], y: p.y[i], category: p.category[i], month: p.month[i] });
      }
    });
    return out;
  }

  // Read-only views of the layer state (tests and the debug hook read them).
  get highlights() {
    return this.layerState.highlights;
  }

  /** @returns {{x: number, y: number}|null} */
  get pinned() {
    return this.layerState.pinned;
  }

  /** @returns {{x: number, y: number}|null} */
  get placed() {
    return this.layerState.placed;
  }

  /** @returns {import("./types.js").LayerState["neighborLines"]} */
  get neighborLines() {
    return this.layerState.neighborLines;
  }

  // Setters of single layers, kept for the explain features and the debug hook (atlasMap.set is the API).

  /** @param {import("./types.js").LayerState["neighborLines"]} lines */
  setNeighborLines(lines) {
    this.setLayer("neighborLines", lines);
  }

  /** @param {import("./types.js").MapPoint[]} highlights */
  setHighlights(highlights) {
    this.setLayer("highlights", highlights);
  }

  /** @param {number|null} key */
  setFocus(key) {
    this.setLayer("focusKey", key);
  }

  /** @param {{x: number, y: number}|null} point */
  setPinned(point) {
    this.setLayer("pinned", point);
  }

  /** @param {{x: number, y: number}|null} point */
  setPlaced(point) {
    this.setLayer("placed", point);
  }
}
