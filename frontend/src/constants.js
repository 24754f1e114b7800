// Every default and constant of the web map, in one place (model: regl-scatterplot's constants.js).

/** Results listed per page in the search, SQL and selection panels. */
export const PAGE_SIZE = 10;
/** Search hits asked of the API. */
export const SEARCH_HITS = 100;
/** Most papers a lasso selection keeps (the export limit of POST /api/export). */
export const SELECTION_LIMIT = 5000;
/** Colour of a point hidden by the filters. */
export const HIDDEN = [0, 0, 0, 0];
/** Colour of a point without a category or a month. */
export const NO_CATEGORY = [140, 140, 140, 255];
/** Width under which the layout is the phone one (bottom sheet, folded legend). */
export const PHONE_WIDTH = 768;
/** Screen pixels around a point that still hit it. */
export const HIT_RADIUS_PIXELS = 8;
/** Delay before a hovered point shows its card, in ms. */
export const HOVER_DELAY_MS = 40;
/** Neighbours drawn for a hovered or pinned paper, and papers listed near a placed text. */
export const NEIGHBOURS = 10;

/** Pixels the camera keeps between what it frames and the toolbar, the legend and the panel. */
export const PANEL_GAP = 8;

/** Paper keys asked of GET /api/paper-keys at once. */
export const PAPER_KEYS_BATCH = 500;
/** Points a lasso selection reads from GET /points, rings it draws, and rows it lists. */
export const SELECTION_POINTS_LIMIT = 50000;
export const SELECTION_RINGS = 300;
export const SELECTION_LISTED = 200;
/** Characters of a placed text shown in its panel. */
export const PLACED_TEXT_PREVIEW = 300;

/** Camera: zoom factor of +/-, ms of the flight home, tiles about this wide on screen, zoom levels past the finest tiles. */
export const ZOOM_STEP = 2;
export const HOME_DURATION_MS = 600;
export const TILE_SCREEN_PIXELS = 512;
export const MAX_ZOOM_BEYOND_TILES = 7;

/** Tiles: fetched at once, kept in the LRU cache, points asked per tile box under a date filter. */
export const MAX_CONCURRENT_TILES = 6;
export const CACHE_TILES = 600;
export const TILE_BOX_POINTS_LIMIT = 50000;

/** Topic labels: font pixels per label level, width of a character (of the font size), zoom per level. */
export const LABEL_FONT_PIXELS = [16, 13, 12, 11];
export const LABEL_CHARACTER_WIDTH = 0.56;
export const LABEL_ZOOM_PER_LEVEL = 1.4;

/** The map's background and overlay strokes per theme (the CSS's --bg). */
export const THEME_COLOURS = {
  dark: { background: 0x111318, ring: 0xffffff, line: 0xdddddd },
  light: { background: 0xf7f7f4, ring: 0x111111, line: 0x333333 },
};
/** The years of the year colouring when the overview tile did not load. */
export const DEFAULT_FIRST_YEAR = 1991;
/** Hue step between the categories of a one-archive map (degrees). */
export const GOLDEN_ANGLE = 137.508;

/** Overlay colours: search hits (ring), the SQL layer (filled dot), the placed text (star). */
export const SEARCH_HIT_COLOUR = 0xff3d00;
export const SQL_LAYER_COLOUR = 0x00b8d4;
export const SQL_LAYER_STROKE = 0x003a44;
export const PLACED_COLOUR = 0xffc400;
/** Radius in pixels of an SQL layer point, and of the one the table row under the pointer names. */
export const SQL_POINT_RADIUS = 4.5;
export const SQL_FOCUS_RADIUS = 9;

/** The SQL panel: rows asked per query, rows per table page, the query shown at first. */
export const SQL_ROW_LIMIT = 1000;
export const SQL_PAGE_SIZE = 20;
export const SQL_MAX_CHARS = 20000;
export const SQL_DEFAULT_QUERY =
  "select arxiv_id, title, published_year\n  from analytics.papers\n where main_category = 'cs.CL'\n order by published desc\n limit 200";

/** Zoom a "fly to" goes to at least. */
export const FLY_ZOOM = 3;
/** Milliseconds of a camera flight to frame a layer. */
export const FRAME_DURATION_MS = 600;
/** Search modes, in the order of the search box. */
export const SEARCH_MODES = ["hybrid", "semantic", "keyword", "title", "author"];
/** How often the URL follows the camera, at most (ms). */
export const URL_WRITE_MS = 250;

// Searches are reranked by the cross-encoder unless the URL says rerank=0: the vector hits show at
// once and the reranked order replaces them when it arrives. Whether reranking helps is measured in
// docs/benchmarks.md (bench/search_quality.py); turn this off if it does not.
export const RERANK_BY_DEFAULT = true;

/**
 * Colours of the archives, largest first (papers of the 100k sample): the 16 largest get a designed,
 * saturated palette (Tableau 10's first nine, then colours picked to stay apart), the long tail muted
 * ones. Chosen by a greedy farthest-point search in CIELAB under CIEDE2000: any two of these 38 are at
 * least 10 apart (the 16 largest at least 18), and each is at least 25 from a white or a near-black
 * background. tests/test_palette.py checks the distances for every archive of the 10k sample.
 * @type {Map<string, string>}
 */
export const ARCHIVE_COLOURS = new Map([
  ["math", "#4e79a7"],
  ["cs", "#f28e2b"],
  ["physics", "#e15759"],
  ["cond-mat", "#76b7b2"],
  ["stat", "#59a14f"],
  ["nlin", "#edc948"],
  ["q-bio", "#b07aa1"],
  ["math-ph", "#ff9da7"],
  ["quant-ph", "#9c755f"],
  ["eess", "#9900ee"],
  ["astro-ph", "#666600"],
  ["q-fin", "#aaaaff"],
  ["hep-th", "#bb0066"],
  ["hep-ex", "#33bbff"],
  ["gr-qc", "#ff22ff"],
  ["hep-ph", "#bb2200"],
  ["nucl-th", "#337766"],
  ["chao-dyn", "#aa9966"],
  ["nucl-ex", "#776677"],
  ["econ", "#118899"],
  ["q-alg", "#8888aa"],
  ["solv-int", "#bb9999"],
  ["alg-geom", "#ddaa88"],
  ["cmp-lg", "#777755"],
  ["hep-lat", "#aabb88"],
  ["adap-org", "#7799aa"],
  ["dg-ga", "#ccaadd"],
  ["patt-sol", "#666699"],
  ["funct-an", "#119988"],
  ["chem-ph", "#886633"],
  ["comp-gas", "#aa5566"],
  ["mtrl-th", "#668866"],
  ["atom-ph", "#bb8855"],
  ["plasm-ph", "#cc7788"],
  ["acc-phys", "#77aa88"],
  ["bayes-an", "#00aacc"],
  ["ao-sci", "#7799cc"],
  ["supr-con", "#cc8877"],
]);
/** Chroma of the colour of an archive missing from ARCHIVE_COLOURS (muted, like the long tail). */
export const UNLISTED_ARCHIVE_CHROMA = 25;
/** Lightness steps of the categories of one archive around the archive's colour (HCL lightness). */
export const CATEGORY_SHADE_STEPS = [0, 9, -9, 16, -16, 5, -5, 12, -12];
