// Text with LaTeX ($...$, \(...\)) rendered by KaTeX; anything else is plain, escaped text.

import renderMathInElement from "katex/contrib/auto-render";
import "katex/dist/katex.min.css";

const DELIMITERS = [
  { left: "$$", right: "$$", display: false },
  { left: "$", right: "$", display: false },
  { left: "\\(", right: "\\)", display: false },
];

/**
 * Set an element's text, its LaTeX rendered.
 * @param {HTMLElement} element
 * @param {string|null|undefined} text
 */
export function setMathText(element, text) {
  element.textContent = text || "";
  if (text && /[$\\]/.test(text)) {
    renderMathInElement(element, { delimiters: DELIMITERS, throwOnError: false, strict: "ignore" });
  }
}

/**
 * A new element with this text, its LaTeX rendered.
 * @param {string} tag
 * @param {string|null|undefined} text
 * @param {string} [className]
 * @returns {HTMLElement}
 */
export function mathElement(tag, text, className) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  setMathText(element, text);
  return element;
}
