// The binary layouts of docs/maps.md, decoded into typed arrays of map coordinates.
//
// Tile records (GET /api/maps/{map}/tiles/z/x/y), 13 bytes, little-endian (tile format 2):
//   uint16 qx, uint16 qy (position inside the tile), uint32 paper, uint16 category, uint16 month,
//   uint8 trust (1 + round(200 * local trust); 0 = unknown)
// Maps built before tile format 2 have 12-byte records without trust (the map list's tile_record).
// Viewport records (GET /api/maps/{map}/points), 17 bytes:
//   float32 x, float32 y, uint32 paper, uint16 category, uint16 month, uint8 trust

/** @typedef {{count: number, x: Float32Array, y: Float32Array, key: Uint32Array, category: Uint16Array, month: Uint16Array, trust: Float32Array}} Points */

export const TILE_RECORD = 13;
export const POINT_RECORD = 17;
const TRUST_STEPS = 200;

/** The trust byte to local trust in [0, 1]; NaN when unknown (0). */
export function trustOfCode(code) {
  return code ? (code - 1) / TRUST_STEPS : NaN;
}

function emptyPoints(count) {
  return {
    count,
    x: new Float32Array(count),
    y: new Float32Array(count),
    key: new Uint32Array(count),
    category: new Uint16Array(count),
    month: new Uint16Array(count),
    trust: new Float32Array(count).fill(NaN), // local trustworthiness, NaN = unknown
  };
}

/**
 * Decode a tile's records into map coordinates.
 * @param {ArrayBuffer} buffer
 * @param {{origin_x: number, origin_y: number, extent: number}} quadtree
 * @param {number} z
 * @param {number} tx
 * @param {number} ty
 * @param {number} [record] bytes a point: the map's tile_record (13; 12 for maps built before tile format 2)
 * @returns {Points}
 */
export function decodeTile(buffer, quadtree, z, tx, ty, record = TILE_RECORD) {
  const view = new DataView(buffer);
  const points = emptyPoints(Math.floor(buffer.byteLength / record));
  const cell = quadtree.extent / 2 ** z;
  const left = quadtree.origin_x + tx * cell;
  const top = quadtree.origin_y + ty * cell;
  for (let i = 0, o = 0; i < points.count; i += 1, o += record) {
    points.x[i] = left + ((view.getUint16(o, true) + 0.5) / 65536) * cell;
    points.y[i] = top + ((view.getUint16(o + 2, true) + 0.5) / 65536) * cell;
    points.key[i] = view.getUint32(o + 4, true);
    points.category[i] = view.getUint16(o + 8, true);
    points.month[i] = view.getUint16(o + 10, true);
    if (record > 12) points.trust[i] = trustOfCode(view.getUint8(o + 12));
  }
  return points;
}

/**
 * Decode viewport records (GET /points, 17 bytes each).
 * @param {ArrayBuffer} buffer
 * @returns {Points}
 */
export function decodePoints(buffer) {
  const view = new DataView(buffer);
  const points = emptyPoints(Math.floor(buffer.byteLength / POINT_RECORD));
  for (let i = 0, o = 0; i < points.count; i += 1, o += POINT_RECORD) {
    points.x[i] = view.getFloat32(o, true);
    points.y[i] = view.getFloat32(o + 4, true);
    points.key[i] = view.getUint32(o + 8, true);
    points.category[i] = view.getUint16(o + 12, true);
    points.month[i] = view.getUint16(o + 14, true);
    points.trust[i] = trustOfCode(view.getUint8(o + 16));
  }
  return points;
}

/**
 * Tile bounds in map coordinates: [min_x, min_y, max_x, max_y].
 * @param {{origin_x: number, origin_y: number, extent: number}} quadtree
 * @param {number} z
 * @param {number} tx
 * @param {number} ty
 * @returns {number[]}
 */
export function tileBounds(quadtree, z, tx, ty) {
  const cell = quadtree.extent / 2 ** z;
  const left = quadtree.origin_x + tx * cell;
  const top = quadtree.origin_y + ty * cell;
  return [left, top, left + cell, top + cell];
}

/**
 * The tiles of level z that meet a box of map coordinates (clamped to the grid).
 * @param {{origin_x: number, origin_y: number, extent: number}} quadtree
 * @param {number} z
 * @param {number[]} box  [minX, minY, maxX, maxY]
 * @returns {Array<[number, number, number]>} [z, x, y] each
 */
export function tilesInView(quadtree, z, [minX, minY, maxX, maxY]) {
  const n = 2 ** z;
  const cell = quadtree.extent / n;
  const clamp = (v) => Math.max(0, Math.min(n - 1, v));
  const x0 = clamp(Math.floor((minX - quadtree.origin_x) / cell));
  const x1 = clamp(Math.floor((maxX - quadtree.origin_x) / cell));
  const y0 = clamp(Math.floor((minY - quadtree.origin_y) / cell));
  const y1 = clamp(Math.floor((maxY - quadtree.origin_y) / cell));
  if (maxX < quadtree.origin_x || maxY < quadtree.origin_y) return [];
  if (minX >= quadtree.origin_x + quadtree.extent || minY >= quadtree.origin_y + quadtree.extent) return [];
  const tiles = [];
  for (let ty = y0; ty <= y1; ty += 1) for (let tx = x0; tx <= x1; tx += 1) tiles.push([z, tx, ty]);
  return tiles;
}

/**
 * Month field (months since 1970-01, plus 1) to a year with fraction; 0 means unknown (NaN).
 * @param {number} month
 * @returns {number}
 */
export function monthToYear(month) {
  return month ? 1970 + (month - 1) / 12 : NaN;
}

/**
 * "YYYY-MM" to the month field.
 * @param {string} text
 * @returns {number}
 */
export function monthField(text) {
  const [year, month] = text.split("-").map(Number);
  return (year - 1970) * 12 + month;
}
