// createAtlasMap: the map as a small module to build on (model: flekschas/regl-scatterplot's createScatterplot).
//
//   const atlasMap = await createAtlasMap({ canvas: element, map, theme });
//   atlasMap.subscribe("camera", ({ centre, zoom }) => ...);
//   atlasMap.set({ sqlLayer: [{x, y, key}], highlights: [...] });
//   atlasMap.get("camera");  atlasMap.draw();  atlasMap.destroy();
//
// Events: "camera", "hover" ({key, point, event}), "click" ({key, point}), "progress" ({pending, done}),
// "error" (Error), "layer" ({name, value}). Layers (layers.js) draw above the points; panels (ui/) are
// separate modules that subscribe to the map and set its layers. Nothing is global.

import { AtlasView } from "./atlasView.js";

/** @typedef {{x: number, y: number, key?: number}} MapPoint */
/**
 * @typedef {object} AtlasMap
 * @property {(nameOrValues: string | Record<string, any>, value?: any) => void} set  set layer state or the camera
 * @property {(name: string) => any} get  a layer's state, "camera" ({centre, zoom}), "view", "map" or "layers"
 * @property {(event: string, handler: (payload: any) => void) => () => void} subscribe  returns its unsubscribe
 * @property {(event: string, handler: (payload: any) => void) => void} unsubscribe
 * @property {() => void} draw  redraw on the next frame
 * @property {() => void} destroy  stop listening and free the canvas
 */

/**
 * Build the map in `canvas` (a container element) for one map of the API.
 * @param {{canvas: HTMLElement, map: object, theme: object, overview?: object|null, layers?: Array<object>}} options
 * @returns {Promise<AtlasMap>}
 */
export async function createAtlasMap({ canvas, map, theme, overview = null, layers = null }) {
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map();
  const emit = (event, payload) => {
    for (const handler of listeners.get(event) || []) handler(payload);
  };
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

  function set(nameOrValues, value) {
    const values = typeof nameOrValues === "string" ? { [nameOrValues]: value } : nameOrValues;
    for (const [name, v] of Object.entries(values)) {
      if (name === "camera") view.camera.go(v.centre, v.zoom);
      else if (name === "theme") view.setTheme(v);
      else {
        view.setLayer(name, v);
        emit("layer", { name, value: v });
      }
    }
  }

  function get(name) {
    if (name === "camera") return cameraState();
    if (name === "view") return view;
    if (name === "map") return map;
    if (name === "layers") return view.layers.map((l) => l.name);
    return view.layerState[name];
  }

  function subscribe(event, handler) {
    if (!listeners.has(event)) listeners.set(event, new Set());
    listeners.get(event).add(handler);
    return () => unsubscribe(event, handler);
  }

  function unsubscribe(event, handler) {
    listeners.get(event)?.delete(handler);
  }

  function destroy() {
    listeners.clear();
    view.app?.destroy(true, { children: true });
  }

  return { set, get, subscribe, unsubscribe, draw: () => view.invalidate(), destroy, view };
}
