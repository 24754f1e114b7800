// Which points are loaded: binary tiles by (z, x, y), or, with a date filter, the server-filtered
// points of each tile's box. Decoded tiles stay in a bounded LRU cache; requests for tiles that left
// the view are cancelled; progress is reported as (pending, done) counts.

import { api } from "./api.js";
import { CACHE_TILES, MAX_CONCURRENT_TILES, TILE_BOX_POINTS_LIMIT } from "./constants.js";
import { decodePoints, decodeTile, tileBounds } from "./tiles.js";

/** @typedef {import("./tiles.js").Points} Points */

export class TileStore {
  /**
   * @param {import("./types.js").MapInfo} map
   * @param {{onLoaded?: (id: string) => void, onProgress?: (pending: number, done: number) => void,
   *   onError?: (error: Error) => void}} handlers
   */
  constructor(map, { onLoaded, onProgress, onError }) {
    this.map = map;
    this.filter = { from: null, to: null };
    this.cache = new Map(); // id -> points (Map keeps insertion order: the LRU order)
    this.inFlight = new Map(); // id -> AbortController
    this.queue = [];
    this.wanted = new Set();
    this.done = 0;
    this.onLoaded = onLoaded;
    this.onProgress = onProgress;
    this.onError = onError;
  }

  /** @returns {boolean} whether the server filters the points (a date range): then each tile is one box query */
  get filtered() {
    return Boolean(this.filter.from || this.filter.to);
  }

  /** @returns {string} what the cache keys of the current filter start with */
  signature() {
    return this.filtered ? `${this.filter.from || ""}..${this.filter.to || ""}` : "";
  }

  /**
   * @param {number} z
   * @param {number} x
   * @param {number} y
   * @returns {string} a tile's cache key under the current filter
   */
  id(z, x, y) {
    return `${this.signature()}|${z}/${x}/${y}`;
  }

  /**
   * A new date filter: the requests under way are cancelled.
   * @param {{from: string|null, to: string|null}} filter  ISO dates
   */
  setFilter(filter) {
    const next = { from: filter.from || null, to: filter.to || null };
    if (next.from === this.filter.from && next.to === this.filter.to) return;
    this.filter = next;
    for (const controller of this.inFlight.values()) controller.abort();
    this.inFlight.clear();
    this.queue = [];
  }

  /**
   * Ask for these tiles (and no others: requests for the rest are cancelled).
   * @param {Array<[number, number, number]>} tiles  [z, x, y] each
   * @returns {Array<{id: string, tile: number[], points: Points}>} the ones already loaded
   */
  want(tiles) {
    const ready = [];
    this.wanted = new Set();
    for (const tile of tiles) {
      const id = this.id(...tile);
      this.wanted.add(id);
      const points = this.cache.get(id);
      if (points) {
        this.cache.delete(id); // refresh its LRU position
        this.cache.set(id, points);
        ready.push({ id, tile, points });
      } else if (!this.inFlight.has(id) && !this.queue.some((q) => q.id === id)) {
        this.queue.push({ id, tile });
      }
    }
    for (const [id, controller] of this.inFlight) {
      if (!this.wanted.has(id)) {
        controller.abort();
        this.inFlight.delete(id);
      }
    }
    this.queue = this.queue.filter((q) => this.wanted.has(q.id));
    this.pump();
    this.report();
    return ready;
  }

  /** Cancel every request and forget the handlers (the view is going away). */
  destroy() {
    for (const controller of this.inFlight.values()) controller.abort();
    this.inFlight.clear();
    this.queue = [];
    this.onLoaded = null;
    this.onProgress = null;
    this.onError = null;
  }

  /** @returns {number} tiles asked for and not loaded yet */
  pending() {
    return this.queue.length + this.inFlight.size;
  }

  /** Tell the progress handler how many tiles are pending and done. */
  report() {
    this.onProgress?.(this.pending(), this.done);
  }

  /** Start queued fetches up to MAX_CONCURRENT_TILES at once. */
  pump() {
    while (this.inFlight.size < MAX_CONCURRENT_TILES && this.queue.length) {
      const { id, tile } = this.queue.shift();
      const controller = new AbortController();
      this.inFlight.set(id, controller);
      this.fetch(tile, controller.signal)
        .then((points) => {
          if (this.inFlight.get(id) !== controller) return;
          this.inFlight.delete(id);
          this.remember(id, points);
          this.done += 1;
          this.onLoaded?.(id);
        })
        .catch((error) => {
          if (this.inFlight.get(id) === controller) this.inFlight.delete(id);
          if (error.name !== "AbortError") this.onError?.(error);
        })
        .finally(() => {
          this.pump();
          this.report();
        });
    }
  }

  /**
   * A tile's points: its binary tile, or under a date filter its box asked of GET /points.
   * @param {number[]} tile  [z, x, y]
   * @param {AbortSignal} signal
   * @returns {Promise<Points>}
   */
  async fetch([z, x, y], signal) {
    const quadtree = this.map.quadtree;
    if (!this.filtered) {
      return decodeTile(await api.tile(this.map.name, z, x, y, { signal }), quadtree, z, x, y, this.map.tile_record);
    }
    const bbox = tileBounds(quadtree, z, x, y).join(",");
    const buffer = await api.points(
      this.map.name,
      { bbox, zoom: z, from: this.filter.from, to: this.filter.to, limit: TILE_BOX_POINTS_LIMIT },
      { signal },
    );
    return decodePoints(buffer);
  }

  /**
   * Keep a tile fetched elsewhere (the overview tile read at start), so that it is not asked for again.
   * @param {number} z
   * @param {number} x
   * @param {number} y
   * @param {Points} points
   */
  keepUnfiltered(z, x, y, points) {
    this.remember(`|${z}/${x}/${y}`, points);
  }

  /**
   * Cache a tile, dropping the least recently used ones beyond CACHE_TILES (never one still wanted).
   * @param {string} id
   * @param {Points} points
   */
  remember(id, points) {
    this.cache.set(id, points);
    while (this.cache.size > CACHE_TILES) {
      const oldest = this.cache.keys().next().value;
      if (this.wanted.has(oldest)) break;
      this.cache.delete(oldest);
    }
  }
}
