// The side panel (a bottom sheet on phones): one view at a time — a pinned paper, search results,
// a selection or a placed text — each with a way back to the previous one.

import { PANEL_GAP, PHONE_WIDTH } from "../constants.js";
import { authorsShort, element, monthYear, percentMatch } from "../format.js";
import { mathElement } from "../math.js";

/** @typedef {import("../types.js").PaperRecord} PaperRecord */
/** @typedef {{kind: string, render: () => Node}} PanelView */

export class Panel {
  /**
   * @param {HTMLElement} node  the panel (a bottom sheet on phones)
   * @param {HTMLElement} body  where a view is rendered
   * @param {HTMLElement} closeButton  closes the view on top, as the module that opened it says (onClose)
   */
  constructor(node, body, closeButton) {
    this.node = node;
    this.body = body;
    this.closeButton = closeButton;
    /** @type {PanelView[]} the stack of views, the shown one last */
    this.views = [];
    /** @type {Map<string, () => void>} what closing a view of a kind does besides closing it */
    this.closers = new Map();
    this.closeTop = () => this.closeShown();
    closeButton.addEventListener("click", this.closeTop);
  }

  /** @returns {string|null} the kind of the shown view */
  get kind() {
    return this.views.at(-1)?.kind || null;
  }

  /**
   * What the close button (and closeShown) does for a view of this kind, instead of only closing it:
   * the module that opens such views clears what it drew. Returns the unregister.
   * @param {string} kind
   * @param {() => void} handler
   * @returns {() => void}
   */
  onClose(kind, handler) {
    this.closers.set(kind, handler);
    return () => {
      if (this.closers.get(kind) === handler) this.closers.delete(kind);
    };
  }

  /** Close the shown view the way its module wants (onClose), else only close it. */
  closeShown() {
    const kind = this.kind;
    const closer = kind ? this.closers.get(kind) : null;
    if (closer) closer();
    else this.close(kind);
  }

  /**
   * Show a view; a view of the same kind replaces the top one, another kind goes on top.
   * @param {string} kind
   * @param {() => Node} render  called again whenever the view is shown
   */
  open(kind, render) {
    if (this.kind === kind) this.views.pop();
    this.views = this.views.filter((v) => v.kind !== kind);
    this.views.push({ kind, render });
    this.draw();
  }

  /**
   * Replace what the open view of a kind shows, where it is in the stack: a view that arrives late
   * (search hits, the reranked order) does not jump above the one the reader went on to. Opens the
   * view when there is none: on top, or under the others with `below` (a view restored from the URL).
   * @param {string} kind
   * @param {() => Node} render
   * @param {{below?: boolean}} [options]
   */
  update(kind, render, { below = false } = {}) {
    const view = this.views.find((v) => v.kind === kind);
    if (!view && below && this.views.length) this.views.unshift({ kind, render });
    else if (!view) return this.open(kind, render);
    else view.render = render;
    this.draw();
  }

  /**
   * Close the views of a kind, or every view.
   * @param {string|null} [kind]
   */
  close(kind) {
    this.views = kind ? this.views.filter((v) => v.kind !== kind) : [];
    this.draw();
  }

  /** Render the view on top (with a way back to the one below), or hide the panel. */
  draw() {
    const top = this.views.at(-1);
    this.node.hidden = !top;
    this.node.dataset.view = top ? top.kind : "";
    if (!top) return this.body.replaceChildren();
    const back = this.views.length > 1
      ? element("button", { type: "button", class: "panel-back", onclick: () => this.close(top.kind) },
        `← ${this.views.at(-2).kind === "results" ? "results" : this.views.at(-2).kind}`)
      : null;
    this.body.replaceChildren(...[back, top.render()].filter(Boolean));
    this.body.scrollTop = 0;
  }

  /** Remove its DOM listener and every view. */
  destroy() {
    this.closeButton.removeEventListener("click", this.closeTop);
    this.closers.clear();
    this.close();
  }
}

/**
 * Screen edges covered by the toolbar (measured: it wraps on narrow screens), the legend and
 * (withPanel) the open panel: what the camera leaves free when it frames something. On phones the
 * legend folds away and the panel is a bottom sheet.
 * @param {{panel: HTMLElement, legend: HTMLElement, toolbar: HTMLElement}} layout
 * @param {boolean} withPanel
 * @returns {{left: number, top: number, right: number, bottom: number}}
 */
export function screenInsets({ panel, legend, toolbar }, withPanel) {
  const open = withPanel && !panel.hidden;
  const top = toolbar.getBoundingClientRect().bottom + PANEL_GAP;
  if (window.innerWidth < PHONE_WIDTH) {
    return { left: 0, top, right: 0, bottom: open ? panel.getBoundingClientRect().height : 0 };
  }
  const legendBox = legend.getBoundingClientRect();
  const right = open ? window.innerWidth - panel.getBoundingClientRect().left + PANEL_GAP : PANEL_GAP;
  return { left: legendBox.right + PANEL_GAP, top, right, bottom: PANEL_GAP };
}

/**
 * A compact row for a paper in a list (search hit, neighbour, selection).
 * @param {PaperRecord} paper
 * @param {{extra?: string|null, onChoose?: (paper: PaperRecord) => void, onHover?: (paper: PaperRecord|null) => void}} [options]
 * @returns {HTMLLIElement}
 */
export function paperRow(paper, { extra, onChoose, onHover } = {}) {
  const row = element(
    "li",
    { class: "paper-row", tabindex: "0", "data-key": paper.key, "data-arxiv-id": paper.arxiv_id },
    mathElement("div", paper.title, "row-title"),
    element("div", { class: "row-meta" },
      element("span", { text: authorsShort(paper.authors, paper.author_count || paper.authors?.length) }),
      " · ", element("span", { text: monthYear(paper.published) }),
      " · ", element("span", { class: "row-category", title: paper.category_name || "", text: paper.main_category }),
      extra ? [" · ", element("span", { class: "row-extra", text: extra })] : null),
  );
  if (onChoose) {
    row.addEventListener("click", () => onChoose(paper));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") onChoose(paper);
    });
  }
  if (onHover) {
    row.addEventListener("mouseenter", () => onHover(paper));
    row.addEventListener("mouseleave", () => onHover(null));
  }
  return row;
}

/**
 * The details of a pinned paper, with its similar papers (null while they load).
 * @param {object} paper  GET /api/papers/{id}
 * @param {PaperRecord[]|null} neighbors
 * @param {{onChoose?: (paper: PaperRecord) => void, onHover?: (paper: PaperRecord|null) => void}} handlers
 * @returns {HTMLElement}
 */
export function paperDetails(paper, neighbors, { onChoose, onHover }) {
  const links = element("div", { class: "paper-links" },
    element("a", { href: paper.url, target: "_blank", rel: "noopener", text: `arXiv:${paper.arxiv_id}` }),
    paper.doi ? element("a", { href: `https://doi.org/${paper.doi}`, target: "_blank", rel: "noopener", text: `DOI ${paper.doi}` }) : null,
    element("a", { href: `${paper.url.replace("/abs/", "/pdf/")}`, target: "_blank", rel: "noopener", text: "PDF" }),
  );
  const similar = neighbors === null
    ? element("p", { class: "status", text: "Finding similar papers…" })
    : neighbors.length
      ? element("ol", { class: "paper-list similar" }, neighbors.map((n) =>
        paperRow(n, { extra: percentMatch(n.similarity), onChoose, onHover })))
      : element("p", { class: "status", text: "No similar papers found." });
  return element("article", { class: "paper-details" },
    mathElement("h2", paper.title, "paper-title"),
    element("p", { class: "paper-authors", text: (paper.authors || []).join(", ") }),
    element("p", { class: "paper-meta" },
      element("time", { datetime: paper.published, text: new Date(paper.published).toISOString().slice(0, 10) }),
      " · ",
      element("span", { class: "paper-category", text: `${paper.category_name || paper.main_category} (${paper.main_category})` }),
      paper.categories?.length > 1 ? element("span", { class: "paper-cross", text: ` also ${paper.categories.filter((c) => c !== paper.main_category).join(", ")}` }) : null),
    paper.journal_ref ? element("p", { class: "paper-journal", text: paper.journal_ref }) : null,
    links,
    mathElement("p", paper.abstract, "paper-abstract"),
    paper.comment ? element("p", { class: "paper-comment", text: paper.comment }) : null,
    element("h3", { text: "Similar papers" }),
    similar,
  );
}
