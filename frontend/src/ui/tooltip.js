// The hover card: title (LaTeX rendered), first author et al., month and year, category, journal.

import { authorsShort, element, monthYear } from "../format.js";
import { mathElement } from "../math.js";

/** The hover card's element. */
export class Tooltip {
  /** @param {HTMLElement} node */
  constructor(node) {
    this.node = node;
    this.key = null;
  }

  /**
   * @param {import("../types.js").PaperRecord} record
   * @param {number} clientX
   * @param {number} clientY
   */
  show(record, clientX, clientY) {
    this.key = record.key;
    const parts = [
      mathElement("div", record.title, "tooltip-title"),
      element("div", { class: "tooltip-authors", text: authorsShort(record.authors, record.author_count) }),
      element(
        "div",
        { class: "tooltip-meta" },
        element("span", { text: monthYear(record.published) }),
        " · ",
        element("span", { class: "tooltip-category", text: `${record.category_name || record.main_category} (${record.main_category})` }),
      ),
      record.journal_ref ? element("div", { class: "tooltip-journal", text: record.journal_ref }) : null,
    ];
    this.node.replaceChildren(...parts.filter(Boolean));
    this.node.hidden = false;
    this.move(clientX, clientY);
  }

  /**
   * Beside the pointer, inside the window.
   * @param {number} clientX
   * @param {number} clientY
   */
  move(clientX, clientY) {
    const { innerWidth, innerHeight } = window;
    const rect = this.node.getBoundingClientRect();
    const left = clientX + 16 + rect.width > innerWidth ? clientX - rect.width - 12 : clientX + 16;
    const top = clientY + 16 + rect.height > innerHeight ? clientY - rect.height - 12 : clientY + 16;
    this.node.style.left = `${Math.max(4, left)}px`;
    this.node.style.top = `${Math.max(4, top)}px`;
  }

  /** Hide the card. */
  hide() {
    this.key = null;
    this.node.hidden = true;
  }
}
