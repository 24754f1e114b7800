// Topic labels: coarse topics far out, finer ones closer in, never overlapping. Labels are placed
// greedily, biggest topic first; one that would overlap a placed label is left out.

import { LABEL_CHARACTER_WIDTH, LABEL_FONT_PIXELS, LABEL_ZOOM_PER_LEVEL } from "../constants.js";

/** @typedef {{topic: number, level: number, x: number, y: number, size: number, label: string, terms?: string[]}} Topic */

export class TopicLabels {
  /** @param {HTMLElement} element  the labels' layer above the map */
  constructor(element) {
    this.element = element;
    this.topics = [];
    this.levels = 0;
    this.nodes = new Map();
    this.visible = [];
  }

  /** @param {Topic[]} topics  GET /api/maps/{map}/topics */
  setTopics(topics) {
    this.topics = [...topics].sort((a, b) => b.size - a.size);
    this.levels = topics.reduce((max, t) => Math.max(max, t.level + 1), 0);
    for (const node of this.nodes.values()) node.remove();
    this.nodes.clear();
  }

  /**
   * @param {number} zoom
   * @returns {number} the topic level shown at this zoom
   */
  levelForZoom(zoom) {
    if (!this.levels) return 0;
    return Math.max(0, Math.min(this.levels - 1, Math.floor((zoom + 0.6) / LABEL_ZOOM_PER_LEVEL)));
  }

  /**
   * Lay the labels out for a camera.
   * @param {import("../camera.js").Camera} camera
   * @returns {string[]} the labels shown ("level/topic")
   */
  update(camera) {
    const level = this.levelForZoom(camera.zoom());
    const [width, height] = camera.size();
    const font = LABEL_FONT_PIXELS[Math.min(level, LABEL_FONT_PIXELS.length - 1)];
    const placed = [];
    const shown = new Set();
    for (const topic of this.topics) {
      if (topic.level !== level || !topic.label) continue;
      const [sx, sy] = camera.toScreen(topic.x, topic.y);
      const w = topic.label.length * font * LABEL_CHARACTER_WIDTH + 10;
      const h = font * 1.5;
      const box = [sx - w / 2, sy - h / 2, sx + w / 2, sy + h / 2];
      if (box[2] < 0 || box[0] > width || box[3] < 0 || box[1] > height) continue;
      if (placed.some((b) => b[0] < box[2] && box[0] < b[2] && b[1] < box[3] && box[1] < b[3])) continue;
      placed.push(box);
      const id = `${topic.level}/${topic.topic}`;
      shown.add(id);
      let node = this.nodes.get(id);
      if (!node) {
        node = document.createElement("span");
        node.className = `topic-label level-${Math.min(level, 3)}`;
        node.textContent = topic.label;
        node.title = topic.terms ? topic.terms.join(", ") : topic.label;
        this.element.append(node);
        this.nodes.set(id, node);
      }
      node.style.transform = `translate(${Math.round(sx)}px, ${Math.round(sy)}px) translate(-50%, -50%)`;
      node.style.fontSize = `${font}px`;
    }
    for (const [id, node] of this.nodes) {
      if (!shown.has(id)) {
        node.remove();
        this.nodes.delete(id);
      }
    }
    this.visible = [...shown];
    return this.visible;
  }
}
