// Defaults of the web map that a person may want to change in one place.

// Searches are reranked by the cross-encoder unless the URL says rerank=0: the vector hits show at
// once and the reranked order replaces them when it arrives. Whether reranking helps is measured in
// docs/benchmarks.md (bench/search_quality.py); turn this off if it does not.
export const RERANK_BY_DEFAULT = true;
