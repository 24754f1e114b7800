// "Place my text": paste an abstract or an idea; the map marks where it would sit (layer "placed",
// POST /api/place) and rings its nearest papers (layer "highlights"), listed in the panel.

import { api } from "../api.js";
import { FLY_ZOOM, NEIGHBOURS, PLACED_TEXT_PREVIEW } from "../constants.js";
import { element, percentMatch } from "../format.js";
import { onMap } from "../papers.js";
import { paperRow } from "./panel.js";

/** @typedef {import("../types.js").PaperRecord} PaperRecord */

const $ = (id) => document.getElementById(id);

/** The "Place my text" dialog and the placed text's panel. */
export class PlacePanel {
  /**
   * @param {{atlasMap: import("../atlasMap.js").AtlasMap, panel: import("./panel.js").Panel,
   *   progress: import("./progress.js").Progress, onChoose: (paper: PaperRecord) => void}} options
   */
  constructor({ atlasMap, panel, progress, onChoose }) {
    Object.assign(this, { atlasMap, panel, progress, onChoose });
    this.dialog = $("place-dialog");
    this.error = $("place-error");
    this.text = $("place-text");
    this.listeners = [];
    this.listen($("place-button"), "click", () => {
      this.error.hidden = true;
      this.dialog.showModal();
      this.text.focus();
    });
    this.listen($("place-cancel"), "click", () => this.dialog.close());
    this.listen($("place-form"), "submit", (event) => this.submit(event));
    this.off = [panel.onClose("placed", () => this.close())];
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

  /** @returns {boolean} whether the dialog is open (Esc is then its own) */
  isOpen() {
    return this.dialog.open;
  }

  /** @param {SubmitEvent} event */
  async submit(event) {
    event.preventDefault();
    const text = this.text.value.trim();
    if (!text) return;
    const submit = $("place-submit");
    submit.disabled = true;
    try {
      await this.place(text);
      this.dialog.close();
    } catch (error) {
      this.error.hidden = false;
      this.error.textContent = error.message;
    } finally {
      submit.disabled = false;
    }
  }

  /**
   * Mark where a text would sit, fly there and list its nearest papers.
   * @param {string} text
   */
  async place(text) {
    const answer = await this.progress.track("place", api.place(text, this.atlasMap.get("map").name, NEIGHBOURS));
    const camera = this.atlasMap.get("view").camera;
    this.atlasMap.set({ placed: { x: answer.x, y: answer.y }, highlights: onMap(answer.neighbors).map((n) => ({ x: n.x, y: n.y, key: n.key })) });
    camera.flyTo(answer.x, answer.y, Math.max(FLY_ZOOM, camera.zoom()));
    this.panel.open("placed", () => element("div", { class: "placed" },
      element("h2", { text: "Your text would sit here" }),
      element("p", { class: "placed-text", text: text.length > PLACED_TEXT_PREVIEW ? `${text.slice(0, PLACED_TEXT_PREVIEW)}…` : text }),
      element("h3", { text: "Nearest papers on this map" }),
      element("ol", { class: "paper-list placed-list" }, answer.neighbors.map((n) => paperRow(n, {
        extra: percentMatch(n.similarity), onChoose: (p) => this.onChoose(p),
        onHover: (p) => this.atlasMap.set("focusKey", p ? p.key : null),
      })))));
  }

  /** The panel's close button: the star goes. */
  close() {
    this.atlasMap.set("placed", null);
    this.panel.close("placed");
  }

  /** Esc: the star goes. */
  escape() {
    this.atlasMap.set("placed", null);
  }

  /** Remove its DOM listeners and unsubscribe. */
  destroy() {
    for (const remove of this.listeners) remove();
    for (const off of this.off) off();
  }
}
