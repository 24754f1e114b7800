// Which points are loaded: binary tiles by (z, x, y), or, with a date filter, the server-filtered
// points of each tile's box. Decoded tiles stay in a bounded LRU cache; requests for tiles that left
// the view are cancelled; progress is reported as (pending, done) counts.

import { api } from "./api.js";
import { decodePoints, decodeTile, tileBounds } from "./tiles.js";

const MAX_CONCURRENT = 6;
const CACHE_TILES = 600;

export class TileStore {
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

  /** True when the server filters the points (a date range): then each tile is one box query. */
  get filtered() {
    return Boolean(this.filter.from || this.filter.to);
  }

  signature() {
    return this.filtered ? `${this.filter.from || ""}..${this.filter.to || ""}` : "";
  }

  id(z, x, y) {
    return `${this.signature()}|${z}/${x}/${y}`;
  }

  setFilter(filter) {
    const next = { from: filter.from || null, to: filter.to || null };
    if (next.from === this.filter.from && next.to === this.filter.to) return;
    this.filter = next;
    for (const controller of this.inFlight.values()) controller.abort();
    this.inFlight.clear();
    this.queue = [];
  }

  /** Ask for these tiles; returns the ones already loaded as [{id, tile, points}]. */
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

  pending() {
    return this.queue.length + this.inFlight.size;
  }

  report() {
    this.onProgress?.(this.pending(), this.done);
  }

  pump() {
    while (this.inFlight.size < MAX_CONCURRENT && this.queue.length) {
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

  async fetch([z, x, y], signal) {
    const quadtree = this.map.quadtree;
    if (!this.filtered) {
      return decodeTile(await api.tile(this.map.name, z, x, y, { signal }), quadtree, z, x, y, this.map.tile_record);
    }
    const bbox = tileBounds(quadtree, z, x, y).join(",");
    const buffer = await api.points(
      this.map.name,
      { bbox, zoom: z, from: this.filter.from, to: this.filter.to, limit: 50000 },
      { signal },
    );
    return decodePoints(buffer);
  }

  /** Keep a tile fetched elsewhere (the overview tile read at start), so that it is not asked for again. */
  keepUnfiltered(z, x, y, points) {
    this.remember(`|${z}/${x}/${y}`, points);
  }

  remember(id, points) {
    this.cache.set(id, points);
    while (this.cache.size > CACHE_TILES) {
      const oldest = this.cache.keys().next().value;
      if (this.wanted.has(oldest)) break;
      this.cache.delete(oldest);
    }
  }
}
