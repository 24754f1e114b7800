// Short texts shown for papers: authors, dates, similarity.

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * "A", "A and B" or "A et al.".
 * @param {string[]|null|undefined} authors
 * @param {number} [total]  authors in all (the list may be cut)
 * @returns {string}
 */
export function authorsShort(authors, total = authors?.length || 0) {
  if (!authors?.length) return "";
  if (total <= 1) return authors[0];
  if (total === 2) return `${authors[0]} and ${authors[1]}`;
  return `${authors[0]} et al.`;
}

/**
 * "Mar 2019".
 * @param {string|null|undefined} isoDate
 * @returns {string}
 */
export function monthYear(isoDate) {
  if (!isoDate) return "";
  const date = new Date(isoDate);
  return `${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
}

/**
 * "87% match" for a cosine similarity.
 * @param {number} similarity
 * @returns {string}
 */
export function percentMatch(similarity) {
  return `${Math.round(Math.max(0, similarity) * 100)}% match`;
}

/**
 * A new element: attributes (class, text, on<event> handlers, others as attributes; null, undefined and
 * false left out) and children (nodes or text; nested arrays flattened, null left out).
 * @param {string} tag
 * @param {Record<string, any>} [attributes]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
