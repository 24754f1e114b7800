"""Tests of etl/embedders.py: the packaged local model and the OpenAI client against a loopback server."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openai import OpenAI
from openai_compatible_server import OpenAICompatibleServer, chat_reply, fake_embedding

from app.core.embedders import (
    CANONICAL_MINILM,
    Embedder,
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    make_embedder,
    packaged_minilm_path,
    paper_text,
)
from app.core.settings import Settings, get_settings

KEY = "test-key-3f9a"
SECRET = "sk-wrong-secret-0123456789"


# --- the local model -----------------------------------------------------------------------------------


def _no_network(*args: Any, **kwargs: Any) -> None:
    raise AssertionError(f"network access while loading the packaged model: {args!r}")


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    """The packaged all-MiniLM-L6-v2, loaded once, with every outbound connection forbidden."""
    before = os.environ.get("HF_HUB_OFFLINE")
    embedder = LocalEmbedder("all-MiniLM-L6-v2", batch_size=64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        assert embedder.dimensions == 384  # loads the model
    assert os.environ.get("HF_HUB_OFFLINE") == before  # set only while loading
    return embedder


def _first_papers(n: int) -> list[dict[str, Any]]:
    path = get_settings().shared_data_dir / "arxiv-10k.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in itertools.islice(f, n)]


def test_paper_text() -> None:
    assert paper_text("Deep nets", "We study them.") == "Deep nets. We study them."


def test_minilm_names_resolve_to_the_packaged_folder() -> None:
    folder = packaged_minilm_path()
    assert folder is not None and (folder / "model.safetensors").is_file()
    for name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        embedder = LocalEmbedder(name, batch_size=8)
        assert embedder.model_name == CANONICAL_MINILM
        assert Path(embedder.source) == folder
        assert embedder.offline
    other = LocalEmbedder("intfloat/e5-small-v2", batch_size=8)  # not loaded: nothing is downloaded
    assert other.model_name == "intfloat/e5-small-v2"
    assert other.source == "intfloat/e5-small-v2"
    assert not other.offline


def test_local_vectors_are_384_d_unit_float32(local: LocalEmbedder) -> None:
    vectors = local.embed(["graph neural networks", "a short one", "x" * 5000])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert local.embed([]).shape == (0, 384)
    with pytest.raises(TypeError):
        local.embed("a single string")  # type: ignore[arg-type]


def test_local_reproduces_the_shared_embeddings(local: LocalEmbedder) -> None:
    papers = _first_papers(5)
    reference = np.load(get_settings().shared_data_dir / "arxiv-10k.all-MiniLM-L6-v2.f16.npy", mmap_mode="r")
    expected = np.asarray(reference[:5], dtype=np.float32)
    got = local.embed([paper_text(p["title"], p["abstract"]) for p in papers])
    cosines = (got * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert np.all(cosines >= 0.99), cosines
    # and not merely "all vectors look alike": each row matches its own paper best
    assert np.array_equal((got @ expected.T).argmax(axis=1), np.arange(5))


def test_local_similarity_is_semantic(local: LocalEmbedder) -> None:
    a, b, c = local.embed(
        [
            "Convolutional neural networks for image classification",
            "Deep learning models that recognise objects in photographs",
            "The cohomology of moduli spaces of algebraic curves",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2
    assert float(a @ b) > float(b @ c) + 0.2


# --- the OpenAI-compatible provider ---------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[OpenAICompatibleServer]:
    with OpenAICompatibleServer(api_key=KEY) as srv:
        yield srv


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _openai(server_url: str, sleep: SleepRecorder | None = None, **kwargs: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = {"batch_size": 4, "max_retries": 3, "backoff_base": 0.001}
    options.update(kwargs)
    if sleep is not None:
        options["sleep"] = sleep
    return OpenAIEmbedder("text-embedding-3-large", base_url=server_url, api_key=options.pop("api_key", KEY), **options)


def _texts(n: int) -> list[str]:
    return [f"paper number {i} about topic {i % 3}" for i in range(n)]


def _expected(texts: list[str], dimensions: int = 256) -> np.ndarray:
    return np.stack([fake_embedding(t, dimensions) for t in texts])


def test_openai_batches_and_asks_for_256_dimensions(server: OpenAICompatibleServer) -> None:
    embedder = _openai(server.base_url)
    assert embedder.model_name == "text-embedding-3-large"
    assert embedder.dimensions == 256
    texts = _texts(10)
    vectors = embedder.embed(texts)
    assert vectors.shape == (10, 256) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, _expected(texts), atol=1e-6)
    bodies = server.bodies()
    assert [b["input"] for b in bodies] == [texts[0:4], texts[4:8], texts[8:10]]
    assert all(b["dimensions"] == 256 and b["model"] == "text-embedding-3-large" for b in bodies)
    assert all(r.has_auth_header and r.authorized for r in server.requests)
    assert embedder.embed([]).shape == (0, 256)
    assert len(server.requests) == 3  # nothing sent for no texts


def test_openai_restores_order_when_the_server_shuffles(server: OpenAICompatibleServer) -> None:
    server.shuffle = True
    texts = _texts(12)
    vectors = _openai(server.base_url, batch_size=12).embed(texts)
    np.testing.assert_allclose(vectors, _expected(texts), atol=1e-6)


@pytest.mark.parametrize("statuses", [[429], [500], [429, 503, 500]])
def test_openai_retries_then_succeeds(
    server: OpenAICompatibleServer, statuses: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    for status in statuses:
        server.fail_next(1, status)
    sleep = SleepRecorder()
    caplog.set_level(logging.WARNING, logger="app.core.embedders")
    texts = _texts(3)
    vectors = _openai(server.base_url, sleep, max_retries=3).embed(texts)
    np.testing.assert_allclose(vectors, _expected(texts), atol=1e-6)
    assert [r.status for r in server.requests] == [*statuses, 200]
    assert len(sleep.delays) == len(statuses)
    assert len(caplog.records) == len(statuses)
    assert KEY not in caplog.text


def test_openai_backoff_is_exponential_with_jitter_and_honours_retry_after(
    server: OpenAICompatibleServer,
) -> None:
    server.fail_next(3, 500)
    sleep = SleepRecorder()
    _openai(server.base_url, sleep, backoff_base=0.01, max_retries=3).embed(["a"])
    for attempt, delay in enumerate(sleep.delays):
        assert 0.01 * 2**attempt / 2 <= delay <= 0.01 * 2**attempt
    server.fail_next(1, 429, retry_after=0.25)
    sleep = SleepRecorder()
    _openai(server.base_url, sleep, backoff_base=0.001).embed(["a"])
    assert sleep.delays == [pytest.approx(0.25)]


def test_openai_gives_up_after_max_retries(server: OpenAICompatibleServer) -> None:
    server.fail_next(10, 500)
    sleep = SleepRecorder()
    with pytest.raises(EmbeddingError) as info:
        _openai(server.base_url, sleep, max_retries=2).embed(_texts(2))
    assert len(server.requests) == 3 and len(sleep.delays) == 2
    message = str(info.value)
    assert "3 attempt" in message and "text-embedding-3-large" in message and server.base_url in message


def test_openai_retries_connection_errors() -> None:
    with OpenAICompatibleServer(api_key=KEY) as srv:
        url = srv.base_url
    sleep = SleepRecorder()  # the server is gone: nothing listens on that port now
    with pytest.raises(EmbeddingError, match="failed after 3 attempt"):
        _openai(url, sleep, max_retries=2).embed(["a"])
    assert len(sleep.delays) == 2


def test_openai_401_fails_at_once_without_leaking_the_key(server: OpenAICompatibleServer) -> None:
    sleep = SleepRecorder()
    embedder = _openai(server.base_url, sleep, api_key=SECRET)
    with pytest.raises(EmbeddingError) as info:
        embedder.embed(_texts(2))
    assert len(server.requests) == 1 and sleep.delays == []
    assert server.requests[0].status == 401 and not server.requests[0].authorized
    message = str(info.value)
    assert "401" in message and "text-embedding-3-large" in message and server.base_url in message
    assert "OPENAI_API_KEY" in message
    assert SECRET not in message and SECRET not in repr(embedder)
    assert info.value.__cause__ is None  # the client's error (which echoes the key) is not chained


@pytest.mark.parametrize("status", [400, 404, 422])
def test_openai_other_4xx_fail_at_once(server: OpenAICompatibleServer, status: int) -> None:
    server.fail_next(1, status)
    sleep = SleepRecorder()
    with pytest.raises(EmbeddingError, match=str(status)):
        _openai(server.base_url, sleep).embed(["a"])
    assert len(server.requests) == 1 and sleep.delays == []


@pytest.mark.parametrize("key", [None, ""])
def test_openai_without_api_key_names_the_setting(key: str | None) -> None:
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        OpenAIEmbedder("text-embedding-3-large", base_url=None, api_key=key)


def test_make_embedder_picks_the_provider(server: OpenAICompatibleServer) -> None:
    local = make_embedder(Settings(embedding_provider="local", embed_batch_size=16))
    assert isinstance(local, LocalEmbedder) and local.model_name == CANONICAL_MINILM
    assert local.batch_size == 16

    settings = Settings.from_env(
        {
            "ATLAS_EMBEDDING_PROVIDER": "openai",
            "ATLAS_OPENAI_EMBEDDING_MODEL": "text-embedding-3-small",
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": KEY,
            "ATLAS_EMBED_BATCH_SIZE": "2",
            "ATLAS_EMBED_MAX_RETRIES": "1",
        }
    )
    remote: Embedder = make_embedder(settings)
    assert isinstance(remote, OpenAIEmbedder)
    assert (remote.model_name, remote.dimensions, remote.batch_size, remote.max_retries) == (
        "text-embedding-3-small",
        256,
        2,
        1,
    )
    assert remote.embed(_texts(3)).shape == (3, 256)
    assert [len(b["input"]) for b in server.bodies()] == [2, 1]

    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        make_embedder(Settings(embedding_provider="openai", openai_api_key=None))
    with pytest.raises(ValueError, match="ATLAS_EMBEDDING_PROVIDER") as info:
        make_embedder(Settings(embedding_provider="cohere"))
    assert "local" in str(info.value) and "openai" in str(info.value)


# --- the loopback server itself (later tests build on it) ----------------------------------------------


def test_server_requires_the_bearer_key(server: OpenAICompatibleServer) -> None:
    request = urllib.request.Request(
        server.base_url + "/embeddings",
        data=json.dumps({"model": "m", "input": "a"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 401
    assert server.requests[0].has_auth_header is False


def test_server_float_encoding_string_input_and_usage(server: OpenAICompatibleServer) -> None:
    client = OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    response = client.embeddings.create(model="m", input="hello world", encoding_format="float")
    assert server.bodies()[0]["encoding_format"] == "float"
    assert len(response.data) == 1 and response.data[0].index == 0
    np.testing.assert_allclose(response.data[0].embedding, fake_embedding("hello world", 1536), atol=1e-6)
    assert response.usage.prompt_tokens == 2


def test_server_chat_completions_plain_and_streamed(server: OpenAICompatibleServer) -> None:
    client = OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    messages: list[Any] = [
        {"role": "system", "content": "You answer questions about arXiv papers."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "What is a transformer?"},
    ]
    expected = chat_reply(messages)
    assert "What is a transformer?" in expected
    plain = client.chat.completions.create(model="chat-model", messages=messages)
    assert plain.choices[0].message.content == expected
    assert plain.choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(
        model="chat-model", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    pieces: list[str] = []
    usage = None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
        if chunk.usage is not None:
            usage = chunk.usage
    assert "".join(pieces) == expected and len(pieces) > 2
    assert usage is not None and usage.completion_tokens > 0
    assert [body["stream"] for body in server.bodies("/v1/chat/completions")[1:]] == [True]
