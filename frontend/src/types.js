// The shapes the web map's modules pass around, as JSDoc typedefs only (no code): the map's state
// (what createAtlasMap's set/get/subscribe speak), the API's answers the panels read, the shell that
// the explain features (explain/) are installed on. Import them with `@typedef {import("./types.js").X} X`.

/**
 * A point in map coordinates, with the paper's key when it is one.
 * @typedef {{x: number, y: number, key?: number}} MapPoint
 */

/**
 * The colours of the map's background and overlay strokes for a theme (ui/theme.js).
 * @typedef {{background: number, ring: number, line: number}} Theme
 */

/**
 * One map as GET /api/maps lists it.
 * @typedef {object} MapInfo
 * @property {string} name
 * @property {string|null} title
 * @property {number} paper_count
 * @property {string[]} categories  category codes; tile category i + 1 is categories[i]
 * @property {number[]} bounds  [minX, minY, maxX, maxY]
 * @property {{origin_x: number, origin_y: number, extent: number}} quadtree
 * @property {number} max_level
 * @property {string[]|null} [filter]
 */

/**
 * The filters of the legend: the published months ("YYYY-MM"), the colouring, and the categories
 * shown (`only`) or hidden (`hide`), the shorter of the two (both null when all are shown).
 * @typedef {{from: string|null, to: string|null, color: string, only: string[]|null, hide: string[]|null}} Filters
 */

/**
 * A search as the search box states it.
 * @typedef {{q: string, mode: string, rerank: boolean}} Query
 */

/**
 * The SQL of the SQL panel once it ran: its text, and whether it answered (or was refused).
 * @typedef {{text: string, answered: boolean}} SqlState
 */

/**
 * The state of the page that createAtlasMap keeps besides its layers; `set(name, value)` emits `name`.
 * @typedef {object} AtlasState
 * @property {Filters} filters  set by ui/filtersPanel.js
 * @property {Query|null} query  set by ui/searchPanel.js
 * @property {string|null} paper  the pinned paper's arXiv id, set by ui/paperPanel.js
 * @property {SqlState|null} sql  set by ui/sqlPanel.js
 * @property {number[]|null} selection  paper keys of the lasso selection, set by ui/selectionPanel.js
 */

/**
 * What the overlay layers draw (layers.js); also set with `set(name, value)`.
 * @typedef {object} LayerState
 * @property {{from: number[], to: Array<MapPoint & {rank: number}>}|null} neighborLines
 * @property {MapPoint[]} highlights  search hits or the selection, ringed
 * @property {MapPoint[]} sqlLayer  the rows of the SQL panel, filled dots
 * @property {number|null} focusKey  the paper under the pointer in a list, drawn stronger
 * @property {{x: number, y: number}|null} pinned
 * @property {{x: number, y: number}|null} placed  where a pasted text would sit
 */

/**
 * A short paper record (GET /api/paper-keys, search hits, neighbours).
 * @typedef {object} PaperRecord
 * @property {number} key
 * @property {string} arxiv_id
 * @property {string} title
 * @property {string[]} [authors]
 * @property {number} [author_count]
 * @property {string} [published]
 * @property {string} [main_category]
 * @property {string} [category_name]
 * @property {number|null} [x]
 * @property {number|null} [y]
 */

/**
 * A pinned paper: its details (GET /api/papers/{id}), its neighbours once loaded, its place on the map.
 * @typedef {{paper: object, neighbors: PaperRecord[]|null, x: number|undefined, y: number|undefined, explain?: object}} Pinned
 */

/**
 * The shell main.js hands to the explain features (explain/index.js): the running map and the few
 * panel functions they call. Tests reach it as `window.atlas.app` under the debug hook.
 * @typedef {object} AtlasShell
 * @property {import("./atlasMap.js").AtlasMap} atlasMap
 * @property {import("./atlasView.js").AtlasView} view
 * @property {MapInfo} map
 * @property {import("./ui/progress.js").Progress} progress
 * @property {import("./ui/legend.js").Legend} legend
 * @property {import("./ui/labels.js").TopicLabels} labels
 * @property {(text: string) => void} status  a line under the legend
 * @property {(arxivId: string, options?: {fly?: boolean}) => Promise<void>} pinArxivId
 * @property {{q: string, hits: PaperRecord[]|null}} search  the current search (read only)
 * @property {Pinned|null} pinned  the pinned paper (read only)
 * @property {string} colorMode  "category", "year" or a colouring an extension adds ("growth", "trust")
 * @property {object|null} explain  what installExplainFeatures returned
 * @property {import("./ui/sqlPanel.js").SqlPanel} sqlPanel  the SQL panel (extensions add buttons to its `actions`)
 */

export {};
