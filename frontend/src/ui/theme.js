// Light and dark themes: the system's preference until the user picks one (kept in localStorage).

const KEY = "atlas-theme";

export function currentTheme() {
  const chosen = localStorage.getItem(KEY);
  if (chosen === "light" || chosen === "dark") return chosen;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(theme = currentTheme()) {
  document.documentElement.dataset.theme = theme;
  return theme;
}

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

/** The map's background and point blending for a theme. */
export function themeColours(theme) {
  return theme === "dark"
    ? { background: 0x111318, ring: 0xffffff, line: 0xdddddd }
    : { background: 0xf7f7f4, ring: 0x111111, line: 0x333333 };
}
