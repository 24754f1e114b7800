// Honest neighbours of a pinned paper (GET /api/papers/{id}/explain): three lists side by side —
// nearest by embedding, nearest on the map, embedding neighbours reranked by the cross-encoder —
// each paper with its rank in the other lists, cosine similarity and 2-D distance, and the pairs
// the map distorts flagged. Self-contained: it renders DOM from the answer and reports choices.

import { element } from "../format.js";

const LISTS = [
  { key: "embedding", title: "Nearest by embedding", rank: "embedding_rank" },
  { key: "map_neighbors", title: "Nearest on the map", rank: "map_rank" },
  { key: "reranked", title: "Reranked (cross-encoder)", rank: "rerank_rank" },
];

function rankText(row, field, k) {
  const value = row[field];
  if (value === null || value === undefined) return "–";
  return value > k ? `${value}` : `#${value}`;
}

function explainRow(row, list, k, { onChoose, onHover }) {
  const others = LISTS.filter((l) => l.rank !== list.rank)
    .map((l) => `${l.key === "map_neighbors" ? "map" : l.key === "embedding" ? "emb" : "rerank"} ${rankText(row, l.rank, k)}`);
  return element("li", {
    class: `explain-row${row.distorted ? " distorted" : ""}`,
    "data-arxiv-id": row.arxiv_id,
    "data-key": row.key,
    onmouseenter: () => onHover?.(row),
    onmouseleave: () => onHover?.(null),
  },
    element("button", { type: "button", class: "explain-title", onclick: () => onChoose?.(row), text: row.title }),
    element("div", { class: "explain-facts" },
      `cos ${row.similarity.toFixed(2)} · 2-D ${row.distance.toFixed(2)} · ${others.join(" · ")}`),
    row.distorted ? element("div", { class: "distortion-flag", title: row.distortion, text: `⚠ the map distorts this: ${row.distortion}` }) : null,
  );
}

/** The explain section for an answer of /explain; `handlers`: onChoose(row), onHover(row|null). */
export function explainSection(answer, handlers = {}) {
  const k = answer.k;
  const columns = LISTS.map((list) => {
    const rows = answer[list.key];
    const body = rows
      ? element("ol", { class: "explain-list" }, rows.map((row) => explainRow(row, list, k, handlers)))
      : element("p", { class: "status reranker-error", text: answer.reranker_error || "Not available." });
    return element("section", { class: `explain-column explain-${list.key}` }, element("h4", { text: list.title }), body);
  });
  return element("div", { class: "explain" },
    element("p", { class: "explain-summary" },
      `${answer.flagged} of the pairs below are flagged “the map distorts this”: ${answer.distortion_rule}.`),
    element("div", { class: "explain-columns" }, columns));
}
