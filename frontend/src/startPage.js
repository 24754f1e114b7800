// The start page: a card per built map (name, title, paper count); a card opens ?map=name.

import { api } from "./api.js";
import { element } from "./format.js";

/** Show the start page with a card per built map (or why there is none). */
export async function showStartPage() {
  document.getElementById("start").hidden = false;
  const list = document.getElementById("map-cards");
  const message = document.getElementById("start-message");
  try {
    const maps = await api.maps();
    if (!maps.length) {
      message.hidden = false;
      message.textContent = "No map is built yet: run `atlas build` after loading papers.";
      return;
    }
    list.replaceChildren(...maps.map((map) => element("li", { class: "map-card", "data-map": map.name },
      element("a", { href: `?map=${encodeURIComponent(map.name)}` },
        element("strong", { class: "map-card-name", text: map.title || map.name }),
        element("span", { class: "map-card-count", text: `${map.paper_count.toLocaleString("en")} papers` }),
        element("span", { class: "map-card-filter", text: map.filter?.length ? map.filter.join(", ") : "every archive" })))));
  } catch (error) {
    message.hidden = false;
    message.textContent = `The maps could not be listed: ${error.message}`;
  }
}
