// The keyboard and the zoom buttons: `/` focuses the search box, + and - zoom, 0 shows the whole map,
// Esc clears (what it clears, each panel says: `escape()`; main.js hands them over).

import { HOME_DURATION_MS, ZOOM_STEP } from "../constants.js";

const $ = (id) => document.getElementById(id);

/** The zoom buttons and the keyboard. */
export class Controls {
  /**
   * @param {{atlasMap: import("../atlasMap.js").AtlasMap, onEscape: () => void, isDialogOpen: () => boolean}} options
   *   onEscape: clear the search, the pin, the selection, ...; not while a dialog is open (Esc closes it)
   */
  constructor({ atlasMap, onEscape, isDialogOpen }) {
    this.camera = atlasMap.get("view").camera;
    this.onEscape = onEscape;
    this.isDialogOpen = isDialogOpen;
    this.search = $("search-input");
    this.listeners = [];
    this.listen($("zoom-in"), "click", () => this.camera.zoomBy(ZOOM_STEP));
    this.listen($("zoom-out"), "click", () => this.camera.zoomBy(1 / ZOOM_STEP));
    this.listen($("zoom-home"), "click", () => this.camera.home(HOME_DURATION_MS));
    this.listen(document, "keydown", (event) => this.key(event));
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

  /** @param {KeyboardEvent} event */
  key(event) {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName);
    if (event.key === "/" && !typing) {
      event.preventDefault();
      this.search.focus();
      this.search.select();
    } else if (!typing && (event.key === "+" || event.key === "=")) {
      this.camera.zoomBy(ZOOM_STEP);
    } else if (!typing && (event.key === "-" || event.key === "_")) {
      this.camera.zoomBy(1 / ZOOM_STEP);
    } else if (!typing && event.key === "0") {
      this.camera.home(HOME_DURATION_MS);
    } else if (event.key === "Escape") {
      if (this.isDialogOpen()) return;
      this.onEscape();
      if (typing) event.target.blur();
    }
  }

  /** Remove its DOM listeners. */
  destroy() {
    for (const remove of this.listeners) remove();
  }
}
