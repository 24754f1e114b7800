// Colours of points: by category (archives get hues, their categories shades of it) or by year.

import * as d3 from "d3";

const GOLDEN_ANGLE = 137.508;

export function archiveOf(category) {
  return category.split(".")[0];
}

/** A colour for every category of a map, as [r, g, b] 0-255, in the map's category order. */
export function categoryPalette(categories) {
  const archives = [...new Set(categories.map(archiveOf))].sort();
  const single = archives.length === 1;
  const withinArchive = new Map();
  return categories.map((code, index) => {
    if (single) return rgb(d3.hcl((index * GOLDEN_ANGLE) % 360, 55, 62));
    const archiveIndex = archives.indexOf(archiveOf(code));
    const rank = withinArchive.get(archiveOf(code)) || 0;
    withinArchive.set(archiveOf(code), rank + 1);
    const hue = (archiveIndex * GOLDEN_ANGLE) % 360;
    const lightness = 52 + ((rank * 7) % 28);
    return rgb(d3.hcl(hue, 60 - ((rank * 5) % 20), lightness));
  });
}

function rgb(colour) {
  const c = d3.rgb(colour);
  return [Math.round(c.r), Math.round(c.g), Math.round(c.b)];
}

export function cssColour([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}

/** Colour of a year (with fraction) on a [first, last] scale. */
export function yearScale(first, last) {
  const scale = d3.scaleSequential(d3.interpolateViridis).domain([first, last]).clamp(true);
  return (year) => rgb(scale(year));
}

export const RANK_COLOURS = (rank, count) => d3.interpolatePlasma(0.1 + (0.75 * (rank - 1)) / Math.max(1, count - 1));
