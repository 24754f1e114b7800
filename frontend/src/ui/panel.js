// The side panel (a bottom sheet on phones): one view at a time — a pinned paper, search results,
// a selection or a placed text — each with a way back to the previous one.

import { authorsShort, element, monthYear, percentMatch } from "../format.js";
import { mathElement } from "../math.js";

export class Panel {
  constructor(node, body, closeButton, onClose) {
    this.node = node;
    this.body = body;
    this.views = []; // stack of {kind, render}
    closeButton.addEventListener("click", () => onClose());
  }

  get kind() {
    return this.views.at(-1)?.kind || null;
  }

  /** Show a view; a view of the same kind replaces the top one, another kind goes on top. */
  open(kind, render) {
    if (this.kind === kind) this.views.pop();
    this.views = this.views.filter((v) => v.kind !== kind);
    this.views.push({ kind, render });
    this.draw();
  }

  close(kind) {
    this.views = kind ? this.views.filter((v) => v.kind !== kind) : [];
    this.draw();
  }

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
}

/** A compact row for a paper in a list (search hit, neighbour, selection). */
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

/** The details of a pinned paper, with its similar papers. */
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
