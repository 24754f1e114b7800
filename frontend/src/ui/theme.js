// Light and dark themes: the system's preference until the user picks one (kept in localStorage).

import { THEME_COLOURS } from "../constants.js";

const KEY = "atlas-theme";

/** @returns {"light"|"dark"} the theme chosen, else the system's */
export function currentTheme() {
  const chosen = localStorage.getItem(KEY);
  if (chosen === "light" || chosen === "dark") return chosen;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/**
 * Set the page's theme (the CSS follows data-theme).
 * @param {"light"|"dark"} [theme]
 * @returns {"light"|"dark"}
 */
export function applyTheme(theme = currentTheme()) {
  document.documentElement.dataset.theme = theme;
  return theme;
}

/**
 * Wire every [data-theme-toggle] button; onChange hears the new theme.
 * @param {(theme: "light"|"dark") => void} [onChange]
 */
export function setupThemeToggles(onChange) {
  applyTheme();
  for (const button of document.querySelectorAll("[data-theme-toggle]")) {
    button.addEventListener("click", () => {
      const next = currentTheme() === "dark" ? "light" : "dark";
      localStorage.setItem(KEY, next);
      onChange?.(applyTheme(next));
    });
  }
}

/**
 * The map's background and overlay strokes for a theme.
 * @param {"light"|"dark"} theme
 * @returns {import("../types.js").Theme}
 */
export function themeColours(theme) {
  return theme === "dark" ? THEME_COLOURS.dark : THEME_COLOURS.light;
}
