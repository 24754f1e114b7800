"""A small real OpenAI-compatible HTTP server on 127.0.0.1 for tests (embeddings and chat completions)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import numpy as np

MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_EMBEDDING_DIMENSIONS = 1536


def fake_embedding(text: str, dimensions: int) -> np.ndarray:
    """Deterministic float32 unit vector for `text` (same text and width, same vector)."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimensions).astype(np.float64)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def chat_reply(messages: list[dict[str, Any]]) -> str:
    """The deterministic answer of the chat endpoint: it echoes the user messages, in order."""
    said = [_message_text(m.get("content")) for m in messages if m.get("role") == "user"]
    return f"Echo: {' '.join(said)}"


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _count_tokens(text: str) -> int:
    return len(text.split())


@dataclass
class ReceivedRequest:
    """One request the server received (failed ones included)."""

    method: str
    path: str
    body: Any  # the parsed JSON body, or None
    has_auth_header: bool
    authorized: bool
    status: int = 0  # the status it was answered with


@dataclass
class _Failure:
    status: int
    retry_after: float | None
    message: str


@dataclass
class _State:
    api_key: str
    default_dimensions: int
    shuffle: bool = False
    requests: list[ReceivedRequest] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # one small JSON reply per request: no 40 ms delayed-ACK stalls
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    timeout = 30  # idle keep-alive connections end instead of lingering
    state: _State  # set on a subclass per server

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass

    # --- plumbing -------------------------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        entry = getattr(self, "entry", None)
        if entry is not None:  # recorded before the client can read the answer and look at server.requests
            entry.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
        code = {401: "invalid_api_key", 404: "not_found", 429: "rate_limit_exceeded"}.get(status)
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers)

    def _record(self, body: Any) -> ReceivedRequest:
        header = self.headers.get("Authorization")
        entry = ReceivedRequest(
            method=self.command,
            path=self.path,
            body=body,
            has_auth_header=header is not None,
            authorized=header == f"Bearer {self.state.api_key}",
        )
        with self.state.lock:
            self.state.requests.append(entry)
        self.entry = entry
        return entry

    def _read_body(self) -> tuple[Any, str | None]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return None, "request body too large"
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None, None
        try:
            return json.loads(raw), None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return None, f"body is not JSON: {exc}"

    def _gate(self, entry: ReceivedRequest) -> bool:
        """Injected failures first, then the API key check. True when the request may go on."""
        with self.state.lock:
            failure = self.state.failures.pop(0) if self.state.failures else None
        if failure is not None:
            entry.status = failure.status
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = f"{failure.retry_after:g}"
            self._send_error(failure.status, failure.message, "injected_failure", headers)
            return False
        if not entry.authorized:
            entry.status = 401
            header = self.headers.get("Authorization") or ""
            given = header.removeprefix("Bearer ").strip()
            # Like some real servers, echo the key that was given: callers must not pass it on.
            message = f"Incorrect API key provided: {given}." if given else "Missing bearer authentication."
            self._send_error(401, message, "invalid_request_error")
            return False
        return True

    # --- routes ---------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        entry = self._record(None)
        if not self._gate(entry):
            return
        if self.path.rstrip("/") == "/v1/models":
            entry.status = 200
            models = ["fake-embedding", "fake-chat"]
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": m, "object": "model", "created": 0, "owned_by": "tests"} for m in models],
                },
            )
            return
        entry.status = 404
        self._send_error(404, f"no route GET {self.path}", "invalid_request_error")

    def do_POST(self) -> None:
        body, problem = self._read_body()
        entry = self._record(body)
        if not self._gate(entry):
            return
        if problem is not None:
            entry.status = 400
            self._send_error(400, problem, "invalid_request_error")
            return
        route = self.path.split("?", 1)[0].rstrip("/")
        if route == "/v1/embeddings":
            entry.status = self._embeddings(body)
        elif route == "/v1/chat/completions":
            entry.status = self._chat(body)
        else:
            entry.status = 404
            self._send_error(404, f"no route POST {self.path}", "invalid_request_error")

    def _bad_request(self, message: str) -> int:
        self._send_error(400, message, "invalid_request_error")
        return 400

    def _embeddings(self, body: Any) -> int:
        if not isinstance(body, dict):
            return self._bad_request("expected a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._bad_request("'model' is required")
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self._bad_request("'input' must be a string or a non-empty list of strings")
        if any(t == "" for t in texts):
            return self._bad_request("'input' cannot contain an empty string")
        dimensions = body.get("dimensions", self.state.default_dimensions)
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1:
            return self._bad_request("'dimensions' must be a positive integer")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return self._bad_request("'encoding_format' must be 'float' or 'base64'")
        data = []
        for index, text in enumerate(texts):
            vector = fake_embedding(text, dimensions)
            embedding: Any = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                if encoding == "base64"
                else [float(x) for x in vector]
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        if self.state.shuffle and len(data) > 1:
            order = list(range(len(data)))
            random.Random(len(data)).shuffle(order)
            if order == sorted(order):  # always a real shuffle, so a client that ignores `index` fails
                order.reverse()
            data = [data[i] for i in order]
        tokens = sum(_count_tokens(t) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )
        return 200

    def _chat(self, body: Any) -> int:
        if not isinstance(body, dict):
            return self._bad_request("expected a JSON object")
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            return self._bad_request("'model' is required")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return self._bad_request("'messages' must be a non-empty list of objects")
        reply = chat_reply(messages)
        prompt_tokens = sum(_count_tokens(_message_text(m.get("content"))) for m in messages)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": _count_tokens(reply),
            "total_tokens": prompt_tokens + _count_tokens(reply),
        }
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not body.get("stream"):
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "logprobs": None,
                            "message": {"role": "assistant", "content": reply, "refusal": None},
                        }
                    ],
                    "usage": usage,
                },
            )
            return 200
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self._stream_chat(completion_id, created, model, reply, usage if include_usage else None)
        return 200

    def _stream_chat(
        self, completion_id: str, created: int, model: str, reply: str, usage: dict[str, int] | None
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }

        events: list[Any] = [chunk({"role": "assistant", "content": ""}, None)]
        events += [chunk({"content": piece}, None) for piece in _pieces(reply)]
        events.append(chunk({}, "stop"))
        if usage is not None:
            events.append(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        for event in events:
            self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")  # the last chunk of a chunked body

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
        self.wfile.flush()


def _pieces(text: str) -> Iterator[str]:
    """Word-sized pieces of `text` that join back to it exactly."""
    words = text.split(" ")
    for i, word in enumerate(words):
        yield word if i == 0 else " " + word


class _LoopbackHTTPServer(ThreadingHTTPServer):
    """A client that hangs up (a cancelled stream, a timeout test) is expected here, not an error to print."""

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)


class OpenAICompatibleServer:
    """An OpenAI-compatible server on 127.0.0.1 (a free port) in a background thread.

    Use as a context manager (`with OpenAICompatibleServer() as server:`); `server.base_url` ends in
    `/v1`, `server.requests` lists what it received, `server.fail_next(n, status)` injects failures.
    """

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        shuffle: bool = False,
        default_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS,
    ) -> None:
        self.api_key = api_key
        self._state = _State(api_key=api_key, default_dimensions=default_dimensions, shuffle=shuffle)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> OpenAICompatibleServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        handler = type("_BoundHandler", (_Handler,), {"state": self._state})
        httpd = _LoopbackHTTPServer(("127.0.0.1", 0), handler)  # loopback only, a free port
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> OpenAICompatibleServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what tests use -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def bodies(self, path: str = "/v1/embeddings") -> list[Any]:
        """JSON bodies received on `path`, in order."""
        return [r.body for r in self.requests if r.path.split("?", 1)[0].rstrip("/") == path]

    @property
    def shuffle(self) -> bool:
        return self._state.shuffle

    @shuffle.setter
    def shuffle(self, value: bool) -> None:
        self._state.shuffle = value

    def fail_next(self, n: int, status: int, *, retry_after: float | None = None, message: str | None = None) -> None:
        """Answer the next `n` requests with HTTP `status` (429 gets `Retry-After: 0` unless given)."""
        if status == 429 and retry_after is None:
            retry_after = 0
        text = message or f"injected failure: {status} {HTTPStatus(status).phrase}"
        with self._state.lock:
            self._state.failures.extend(_Failure(status, retry_after, text) for _ in range(n))

    def reset(self) -> None:
        """Forget received requests and pending failures."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.failures.clear()
