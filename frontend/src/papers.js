// The papers the panels show, asked of the API once and kept: short records by key (GET
// /api/paper-keys, for the hover card and lists) and each paper's neighbours on this map.

import { api } from "./api.js";
import { NEIGHBOURS, PAPER_KEYS_BATCH } from "./constants.js";

/** @typedef {import("./types.js").PaperRecord} PaperRecord */

export class PaperStore {
  /** @param {string} mapName  neighbours are those of this map */
  constructor(mapName) {
    this.mapName = mapName;
    /** @type {Map<number, PaperRecord>} */
    this.records = new Map();
    /** @type {Map<string, PaperRecord[]>} */
    this.neighbours = new Map();
  }

  /**
   * The short records of these keys, in their order (keys the API does not know are left out).
   * @param {number[]} keys
   * @returns {Promise<PaperRecord[]>}
   */
  async recordsOf(keys) {
    const missing = keys.filter((k) => !this.records.has(k));
    for (let i = 0; i < missing.length; i += PAPER_KEYS_BATCH) {
      const rows = await api.paperKeys(missing.slice(i, i + PAPER_KEYS_BATCH));
      for (const row of rows) this.records.set(row.key, row);
    }
    return keys.map((k) => this.records.get(k)).filter(Boolean);
  }

  /**
   * A paper's nearest neighbours on this map.
   * @param {string} arxivId
   * @returns {Promise<PaperRecord[]>}
   */
  async neighborsOf(arxivId) {
    if (!this.neighbours.has(arxivId)) {
      this.neighbours.set(arxivId, await api.neighbors(arxivId, this.mapName, NEIGHBOURS));
    }
    return this.neighbours.get(arxivId);
  }
}

/**
 * The papers of a list that have a place on the map.
 * @param {PaperRecord[]|null|undefined} papers
 * @returns {PaperRecord[]}
 */
export function onMap(papers) {
  return (papers || []).filter((n) => n.x !== null && n.x !== undefined);
}
