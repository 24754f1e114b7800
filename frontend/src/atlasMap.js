// createAtlasMap: the map as a small module to build on (model: flekschas/regl-scatterplot's createScatterplot).
//
//   const atlasMap = await createAtlasMap({ canvas: element, map, theme });
//   atlasMap.subscribe("camera", ({ centre, zoom }) => ...);
//   atlasMap.set({ sqlLayer: [{x, y, key}], highlights: [...] });
//   atlasMap.get("camera");  atlasMap.draw();  atlasMap.destroy();
//
// The map holds two kinds of state (types.js, AtlasState): the layers it draws (layers.js: highlights,
// sqlLayer, pinned, ...) and what the page shows that is not drawn (filters, query, paper, sql,
// selection). `set(name, value)` changes either and emits the event `name` with the value (and, for
// compatibility, "layer" with {name, value}); panels (ui/) subscribe to the names they show, and the
// URL (urlSync.js) to those it keeps. Other events: "camera" ({centre, zoom}), "hover" ({key, point,
// event}), "click" ({key, point}), "progress" ({pending, done}), "error" (Error). Nothing is global.

import { AtlasView } from "./atlasView.js";
import { monthEnd, monthStart } from "./urlState.js";

/** @typedef {import("./types.js").MapPoint} MapPoint */
/** @typedef {import("./types.js").AtlasState} AtlasState */
/** @typedef {import("./types.js").MapInfo} MapInfo */
/** @typedef {import("./types.js").Theme} Theme */

/**
 * @typedef {object} AtlasMap
 * @property {(nameOrValues: string | Partial<AtlasState> | Record<string, any>, value?: any) => void} set
 *   set a layer, a piece of page state (AtlasState), the camera ({centre, zoom}) or the theme
 * @property {(name: string) => any} get  a layer's or a state's value, "camera" ({centre, zoom}),
 *   "view" (the AtlasView), "map" (MapInfo) or "layers" (the names of the overlay layers)
 * @property {(event: string, handler: (payload: any) => void) => () => void} subscribe  returns its unsubscribe
 * @property {(event: string, handler: (payload: any) => void) => void} unsubscribe
 * @property {() => void} draw  redraw on the next frame
 * @property {() => void} destroy  stop listening and free the canvas
 * @property {AtlasView} view  the view itself (camera, points, tiles), for the debug hook
 */

/** The page state that is not drawn, with its values before anything is set (types.js, AtlasState). */
const INITIAL_STATE = () => ({
  filters: { from: null, to: null, color: "category", only: null, hide: null },
  query: null,
  paper: null,
  sql: null,
  selection: null,
});

/**
 * Build the map in `canvas` (a container element) for one map of the API.
 * @param {{canvas: HTMLElement, map: MapInfo, theme: Theme, overview?: object|null,
 *   layers?: Array<import("./layers.js").Layer>|null}} options
 * @returns {Promise<AtlasMap>}
 */
export async function createAtlasMap({ canvas, map, theme, overview = null, layers = null }) {
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map();
  const emit = (event, payload) => {
    for (const handler of [...(listeners.get(event) || [])]) handler(payload);
  };
  const state = INITIAL_STATE();
  const view = new AtlasView(canvas, map, {
    onCamera: () => emit("camera", cameraState()),
    onHover: (key, point, event) => emit("hover", { key, point, event }),
    onClick: (key, point) => emit("click", { key, point }),
    onProgress: (pending, done) => emit("progress", { pending, done }),
    onError: (error) => emit("error", error),
  });
  if (layers) view.layers = layers;
  await view.init(theme, overview);

  function cameraState() {
    const [x, y] = view.camera.viewCentre();
    return { centre: [x, y], zoom: view.camera.zoom() };
  }

  /**
   * Set one value (`set(name, value)`) or several (`set({name: value, ...})`); each emits its name.
   * @param {string | Record<string, any>} nameOrValues
   * @param {any} [value]
   */
  function set(nameOrValues, value) {
    const values = typeof nameOrValues === "string" ? { [nameOrValues]: value } : nameOrValues;
    for (const [name, v] of Object.entries(values)) {
      if (name === "camera") {
        view.camera.go(v.centre, v.zoom); // emits "camera" through the view
        continue;
      }
      if (name === "theme") view.setTheme(v);
      else if (name in state) {
        if (name === "filters") view.setDateFilter({ from: monthStart(v.from), to: monthEnd(v.to) });
        state[name] = v;
      } else view.setLayer(name, v);
      emit(name, v);
      emit("layer", { name, value: v });
    }
  }

  /**
   * @param {string} name
   * @returns {any}
   */
  function get(name) {
    if (name === "camera") return cameraState();
    if (name === "view") return view;
    if (name === "map") return map;
    if (name === "layers") return view.layers.map((l) => l.name);
    if (name in state) return state[name];
    return view.layerState[name];
  }

  /**
   * @param {string} event
   * @param {(payload: any) => void} handler
   * @returns {() => void} the unsubscribe
   */
  function subscribe(event, handler) {
    if (!listeners.has(event)) listeners.set(event, new Set());
    listeners.get(event).add(handler);
    return () => unsubscribe(event, handler);
  }

  /**
   * @param {string} event
   * @param {(payload: any) => void} handler
   */
  function unsubscribe(event, handler) {
    listeners.get(event)?.delete(handler);
  }

  function destroy() {
    listeners.clear();
    view.destroy();
  }

  return { set, get, subscribe, unsubscribe, draw: () => view.invalidate(), destroy, view };
}
