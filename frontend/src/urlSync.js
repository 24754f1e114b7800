// The URL follows the map: it subscribes to the camera and to the page state the URL keeps
// (filters, query, paper, sql; types.js, AtlasState) and writes them (urlState.js), so that a copied
// link restores the same view. Panels never write the URL themselves.

import { writeUrlState } from "./urlState.js";

/** The events that change the URL. */
const KEPT = ["camera", "filters", "query", "paper", "sql"];

/**
 * Keep the URL in step with the map until destroyed.
 * @param {import("./atlasMap.js").AtlasMap} atlasMap
 * @returns {{write: () => void, destroy: () => void}}
 */
export function syncUrl(atlasMap) {
  const write = () => {
    const { centre, zoom } = atlasMap.get("camera");
    const filters = atlasMap.get("filters");
    const query = atlasMap.get("query");
    writeUrlState({
      map: atlasMap.get("map").name, x: centre[0], y: centre[1], zoom,
      paper: atlasMap.get("paper"),
      q: query?.q || "", mode: query?.mode, rerank: query?.rerank,
      only: filters.only, hide: filters.hide, color: filters.color, from: filters.from, to: filters.to,
      sql: atlasMap.get("sql")?.text || null,
    });
  };
  const off = KEPT.map((event) => atlasMap.subscribe(event, write));
  return {
    write,
    destroy: () => {
      for (const unsubscribe of off) unsubscribe();
    },
  };
}
