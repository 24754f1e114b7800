// Calls to the Atlas API (docs/api.md). Every failure becomes an ApiError carrying the server's reason.

export class ApiError extends Error {
  /**
   * @param {number} status  the HTTP status
   * @param {string} [detail]  the server's reason
   */
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

async function failure(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = body.detail || JSON.stringify(body);
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(response.status, detail);
}

/**
 * GET a JSON answer.
 * @param {string} path
 * @param {Record<string, any>} [params]  the query (empty values left out)
 * @param {{signal?: AbortSignal}} [options]
 * @returns {Promise<any>}
 */
export async function getJson(path, params = {}, { signal } = {}) {
  const response = await fetch(withQuery(path, params), { signal, headers: { Accept: "application/json" } });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/**
 * POST a JSON body.
 * @param {string} path
 * @param {any} body
 * @param {{signal?: AbortSignal}} [options]
 * @returns {Promise<Response>} the response (read it as JSON or as a blob)
 */
export async function postJson(path, body, { signal } = {}) {
  const response = await fetch(path, {
    method: "POST",
    signal,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return response;
}

/**
 * GET a binary answer (tiles, points, growth).
 * @param {string} path
 * @param {Record<string, any>} [params]
 * @param {{signal?: AbortSignal}} [options]
 * @returns {Promise<ArrayBuffer>}
 */
export async function getBinary(path, params = {}, { signal } = {}) {
  const response = await fetch(withQuery(path, params), { signal });
  if (!response.ok) throw await failure(response);
  return response.arrayBuffer();
}

/**
 * A path with its query string.
 * @param {string} path
 * @param {Record<string, any>} params
 * @returns {string}
 */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** The API's calls (docs/api.md), each a promise of its answer; failures are ApiErrors. */
export const api = {
  maps: () => getJson("/api/maps"),
  categories: () => getJson("/api/categories"),
  topics: (map) => getJson(`/api/maps/${encodeURIComponent(map)}/topics`),
  tile: (map, z, x, y, options) => getBinary(`/api/maps/${encodeURIComponent(map)}/tiles/${z}/${x}/${y}`, {}, options),
  points: (map, params, options) => getBinary(`/api/maps/${encodeURIComponent(map)}/points`, params, options),
  paper: (arxivId) => getJson(`/api/papers/${arxivId}`),
  neighbors: (arxivId, map, k = 10) => getJson(`/api/papers/${arxivId}/neighbors`, { k, map }),
  paperKeys: (keys, options) => getJson("/api/paper-keys", { keys: keys.join(",") }, options),
  search: (params, options) => getJson("/api/search", params, options),
  place: (text, map, k = 10) => postJson("/api/place", { text, map, k }).then((r) => r.json()),
  exportPapers: (keys, format) => postJson("/api/export", { keys, format }),
  sql: (body) => postJson("/api/sql", body).then((r) => r.json()),
  sqlSchema: () => getJson("/api/sql/schema"),
  saveView: (state) => postJson("/api/views", state).then((r) => r.json()),
  view: (id) => getJson(`/api/views/${encodeURIComponent(id)}`),
  rerunView: (id) => getJson(`/api/views/${encodeURIComponent(id)}/rerun`),
};
