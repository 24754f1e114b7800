// Overlay layers of the map: each draws its part of the state in screen pixels, above the points,
// in the order of LAYERS (later on top). A new layer is a {name, draw(graphics, camera, state, theme)}.

import { RANK_COLOURS } from "./colors.js";
import {
  PLACED_COLOUR, SEARCH_HIT_COLOUR, SQL_FOCUS_RADIUS, SQL_LAYER_COLOUR, SQL_LAYER_STROKE, SQL_POINT_RADIUS,
} from "./constants.js";

/**
 * @typedef {{x: number, y: number, key?: number}} MapPoint
 * @typedef {{name: string, draw: (g: import("pixi.js").Graphics, camera: any, state: Record<string, any>, theme: any) => void}} Layer
 */

/** @type {Layer} Lines from a hovered or pinned paper to its nearest neighbours. */
export const neighbourLinesLayer = {
  name: "neighborLines",
  draw(g, cam, { neighborLines }) {
    if (!neighborLines) return;
    const [fx, fy] = cam.toScreen(...neighborLines.from);
    const count = neighborLines.to.length;
    for (const n of [...neighborLines.to].reverse()) {
      const [tx, ty] = cam.toScreen(n.x, n.y);
      g.moveTo(fx, fy).lineTo(tx, ty).stroke({ width: 2, color: RANK_COLOURS(n.rank, count), alpha: 0.9 });
      g.circle(tx, ty, 4).stroke({ width: 1.5, color: RANK_COLOURS(n.rank, count) });
    }
  },
};

/** @type {Layer} The rows of the SQL panel: filled dots, the focused row larger. */
export const sqlLayer = {
  name: "sqlLayer",
  draw(g, cam, { sqlLayer: points, focusKey }) {
    if (!points?.length) return;
    for (const p of points) {
      const [sx, sy] = cam.toScreen(p.x, p.y);
      g.circle(sx, sy, SQL_POINT_RADIUS).fill({ color: SQL_LAYER_COLOUR, alpha: 0.95 })
        .stroke({ width: 1, color: SQL_LAYER_STROKE });
    }
    const focus = points.find((p) => p.key === focusKey);
    if (focus) {
      const [sx, sy] = cam.toScreen(focus.x, focus.y);
      g.circle(sx, sy, SQL_FOCUS_RADIUS).stroke({ width: 3, color: SQL_LAYER_COLOUR });
    }
  },
};

/** @type {Layer} Search hits and selections: rings, the focused one larger. */
export const searchHitsLayer = {
  name: "highlights",
  draw(g, cam, { highlights, focusKey }) {
    for (const h of highlights || []) {
      const [sx, sy] = cam.toScreen(h.x, h.y);
      const focus = h.key === focusKey;
      g.circle(sx, sy, focus ? 11 : 7).stroke({ width: focus ? 3 : 2, color: SEARCH_HIT_COLOUR, alpha: 0.95 });
    }
  },
};

/** @type {Layer} The pinned paper: a double ring. */
export const pinnedLayer = {
  name: "pinned",
  draw(g, cam, { pinned }, theme) {
    if (!pinned) return;
    const [sx, sy] = cam.toScreen(pinned.x, pinned.y);
    g.circle(sx, sy, 9).stroke({ width: 3, color: theme.ring });
    g.circle(sx, sy, 13).stroke({ width: 1.5, color: SEARCH_HIT_COLOUR });
  },
};

/** @type {Layer} Where a pasted text would sit: a star. */
export const placedLayer = {
  name: "placed",
  draw(g, cam, { placed }, theme) {
    if (!placed) return;
    const [sx, sy] = cam.toScreen(placed.x, placed.y);
    g.star(sx, sy, 5, 12, 5).fill({ color: PLACED_COLOUR }).stroke({ width: 2, color: theme.ring });
  },
};

/** The default layers, bottom to top (the points themselves are drawn below all of them). */
export const LAYERS = [neighbourLinesLayer, sqlLayer, searchHitsLayer, pinnedLayer, placedLayer];
