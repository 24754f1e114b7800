// Colours of points: by category (archives get hues, their categories shades of it) or by year.

import * as d3 from "d3";

import { ARCHIVE_COLOURS, CATEGORY_SHADE_STEPS, GOLDEN_ANGLE, UNLISTED_ARCHIVE_CHROMA } from "./constants.js";

/**
 * The archive of a category: "math" of "math.PR".
 * @param {string} category
 * @returns {string}
 */
export function archiveOf(category) {
  return category.split(".")[0];
}

/**
 * The colour of an archive: its designed one, or a muted hue of its own for an archive not listed.
 * @param {string} archive
 * @returns {import("d3").HCLColor}
 */
export function archiveColour(archive) {
  const listed = ARCHIVE_COLOURS.get(archive);
  if (listed) return d3.hcl(listed);
  let hash = 0;
  for (const char of archive) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return d3.hcl(hash % 360, UNLISTED_ARCHIVE_CHROMA, 62);
}

/**
 * A colour for every category of a map, as [r, g, b] 0-255, in the map's category order: each
 * archive keeps its colour on every map (ARCHIVE_COLOURS), its categories are shades of it; a map of
 * one archive gives its categories hues of their own.
 * @param {string[]} categories
 * @returns {number[][]}
 */
export function categoryPalette(categories) {
  const archives = new Set(categories.map(archiveOf));
  const single = archives.size === 1;
  const withinArchive = new Map();
  return categories.map((code, index) => {
    if (single) return rgb(d3.hcl((index * GOLDEN_ANGLE) % 360, 55, 62));
    const archive = archiveOf(code);
    const rank = withinArchive.get(archive) || 0;
    withinArchive.set(archive, rank + 1);
    const base = archiveColour(archive);
    const step = CATEGORY_SHADE_STEPS[rank % CATEGORY_SHADE_STEPS.length];
    return rgb(d3.hcl(base.h, base.c, Math.max(25, Math.min(85, base.l + step))));
  });
}

function rgb(colour) {
  const c = d3.rgb(colour);
  return [Math.round(c.r), Math.round(c.g), Math.round(c.b)];
}

/**
 * @param {number[]} rgb  [r, g, b] 0-255
 * @returns {string} CSS rgb()
 */
export function cssColour([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}

/**
 * Colour of a year (with fraction) on a [first, last] scale (viridis).
 * @param {number} first
 * @param {number} last
 * @returns {(year: number) => number[]} [r, g, b]
 */
export function yearScale(first, last) {
  const scale = d3.scaleSequential(d3.interpolateViridis).domain([first, last]).clamp(true);
  return (year) => rgb(scale(year));
}

/** Colour of a neighbour's rank (1 = nearest) among `count` (plasma: dark = nearest). */
export const RANK_COLOURS = (rank, count) => d3.interpolatePlasma(0.1 + (0.75 * (rank - 1)) / Math.max(1, count - 1));
