// "A map that explains itself" (issue 19) on top of the web map, self-contained: the explain panel
// of a pinned paper, a query's (or a SQL layer's) footprint as a heat layer, the growth colouring
// with its month slider and the trust colouring. main.js installs it once
// (`installExplainFeatures(app)`) and lets it decorate the pinned paper's panel; everything else it
// adds itself (a toolbar button, the legend's growth and trust controls, the SQL panel's Footprint).

import "./explain.css";

import { getJson, postJson } from "../api.js";
import { element } from "../format.js";
import { explainSection } from "./explainPanel.js";
import { FootprintLayer, footprintLevel } from "./footprintLayer.js";
import { GrowthColoring } from "./growth.js";
import { TrustColoring } from "./trust.js";

export const explainApi = {
  explain: (arxivId, map, k = 10) => getJson(`/api/papers/${arxivId}/explain`, { map, k }),
  footprint: (map, params) => getJson(`/api/maps/${encodeURIComponent(map)}/footprint`, params),
  /** The footprint of a SQL layer (the centroid of its papers): POST, the SQL may be long. */
  layerFootprint: (map, body) => postJson(`/api/maps/${encodeURIComponent(map)}/footprint`, body).then((r) => r.json()),
};

export class ExplainFeatures {
  constructor(app) {
    this.app = app;
    const atlas = document.getElementById("atlas");
    this.legend = element("aside", { id: "footprint-legend", class: "footprint-panel", hidden: true });
    atlas.append(this.legend);
    this.footprint = new FootprintLayer(app.view, this.legend);
    this.footprintButton = element("button", {
      type: "button", id: "footprint-button", title: "Footprint of the search: how close each region of the map is to it",
      onclick: () => this.toggleFootprint(),
    }, "Footprint");
    document.querySelector(".tools")?.prepend(this.footprintButton);
    this.growth = new GrowthColoring(app, explainApi);
    this.trust = new TrustColoring(app);
    app.sqlPanel.actions.push((panel) => (panel.answer?.on_map ? element("button", {
      type: "button", id: "sql-footprint", title: "How close each region of the map is to the centroid of this layer's papers",
      onclick: () => this.showFootprint({ sql: panel.sql }),
    }, "Footprint") : null));
  }

  // ----- explain panel -----

  /** Adds the "Explain neighbours" part to the pinned paper's panel (rebuilt with the panel). */
  decoratePinned(node, pinned) {
    if (!pinned || pinned.x === undefined || pinned.x === null) return node;
    const holder = element("div", { class: "explain-holder" });
    const show = (answer) => holder.replaceChildren(explainSection(answer, {
      onChoose: (row) => this.app.pinArxivId(row.arxiv_id, { fly: true }),
      onHover: (row) => this.app.view.setFocus(row ? row.key : null),
    }));
    const button = element("button", {
      type: "button", class: "explain-button", title: "Nearest by embedding, on the map and reranked, side by side",
      onclick: async () => {
        button.disabled = true;
        holder.replaceChildren(element("p", { class: "status", text: "Comparing neighbourhoods…" }));
        try {
          pinned.explain = await this.app.progress.track("explain", explainApi.explain(pinned.paper.arxiv_id, this.app.map.name));
          show(pinned.explain);
        } catch (error) {
          holder.replaceChildren(element("p", { class: "error", text: error.message }));
        } finally {
          button.disabled = false;
        }
      },
    }, "Explain neighbours: is the map honest here?");
    if (pinned.explain) show(pinned.explain);
    const footprint = element("button", {
      type: "button", class: "paper-footprint-button", title: "How close each region of the map is to this paper",
      onclick: () => this.showFootprint({ paper: pinned.paper.arxiv_id }),
    }, "Footprint of this paper");
    node.append(element("div", { class: "explain-part" }, button, footprint, holder));
    return node;
  }

  // ----- footprint -----

  async toggleFootprint() {
    if (this.footprint.answer) {
      this.footprint.clear();
      this.footprintButton.setAttribute("aria-pressed", "false");
      return;
    }
    const q = this.app.search.q;
    if (!q) {
      this.app.status("Search for something first: the footprint shows how close each region of the map is to it.");
      return;
    }
    await this.showFootprint({ q });
  }

  /** Fetch and draw a footprint; params: {q | paper | sql, q2 | paper2}. */
  async showFootprint(params) {
    const z = footprintLevel(this.app.view.camera.zoom());
    try {
      const request = params.sql
        ? explainApi.layerFootprint(this.app.map.name, { ...params, z })
        : explainApi.footprint(this.app.map.name, { ...params, z });
      const answer = await this.app.progress.track("footprint", request);
      this.footprint.show(answer);
      this.footprintButton.setAttribute("aria-pressed", "true");
      this.legend.append(element("form", {
        class: "footprint-compare",
        onsubmit: (event) => {
          event.preventDefault();
          const other = event.target.elements.q2.value.trim();
          this.showFootprint(other ? { ...withoutCompare(params), q2: other } : withoutCompare(params));
        },
      }, element("input", { name: "q2", type: "search", placeholder: "compare with…", value: params.q2 || "" }),
      element("button", { type: "submit" }, "Compare")));
    } catch (error) {
      this.app.status(`Footprint: ${error.message}`);
    }
  }
}

function withoutCompare(params) {
  const { q2: _q2, paper2: _paper2, ...rest } = params;
  return rest;
}

export function installExplainFeatures(app) {
  return new ExplainFeatures(app);
}
