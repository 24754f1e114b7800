// Text with LaTeX ($...$, \(...\)) rendered by KaTeX; anything else is plain, escaped text.

import renderMathInElement from "katex/contrib/auto-render";
import "katex/dist/katex.min.css";

const DELIMITERS = [
  { left: "$$", right: "$$", display: false },
  { left: "$", right: "$", display: false },
  { left: "\\(", right: "\\)", display: false },
];

export function setMathText(element, text) {
  element.textContent = text || "";
  if (text && /[$\\]/.test(text)) {
    renderMathInElement(element, { delimiters: DELIMITERS, throwOnError: false, strict: "ignore" });
  }
}

export function mathElement(tag, text, className) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  setMathText(element, text);
  return element;
}
