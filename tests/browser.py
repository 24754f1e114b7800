"""Browser test helpers: the API + built web map served on loopback, and Debian's chromium driven by
Playwright (never `playwright install`: no browser is downloaded).

Screenshots go to test-artifacts/screenshots/ (ATLAS_SCREENSHOT_DIR) so that a person can look at them.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from app.api import create_app
from app.core.settings import Settings

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("ATLAS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-sync", "--disable-quic", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]
# The web map exposes itself as window.atlas only to a page that sets this flag before it loads.
DEBUG_HOOK = "window.__ATLAS_DEBUG__ = true;"
SCREENSHOTS = Path(os.environ.get("ATLAS_SCREENSHOT_DIR", REPO / "test-artifacts" / "screenshots"))

# Counts, in the map's own canvas, of pixels that are not the background ("ink") and of pixels in
# the highlight colour of search hits (#ff3d00), read back from the WebGL canvas.
CANVAS_PIXELS_JS = """
() => {
  const canvas = document.querySelector('#map canvas');
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  const context = copy.getContext('2d');
  context.drawImage(canvas, 0, 0);
  const data = context.getImageData(0, 0, copy.width, copy.height).data;
  const bg = window.atlas.view.theme.background;
  const [br, bgg, bb] = [(bg >> 16) & 255, (bg >> 8) & 255, bg & 255];
  let ink = 0, ring = 0;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    const r = data[i], g = data[i + 1], b = data[i + 2];
    if (Math.abs(r - br) + Math.abs(g - bgg) + Math.abs(b - bb) > 60) {
      ink += 1;
      colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
    }
    if (r > 220 && g > 40 && g < 90 && b < 40) ring += 1;
  }
  return {ink, ring, colours: colours.size, width: copy.width, height: copy.height,
          corner: [data[0], data[1], data[2]]};
}
"""


def watch_for_errors(page, errors: list[str]) -> None:
    """Collect the page's JavaScript errors and every Content-Security-Policy violation it logs."""
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(f"CSP: {message.text}")
            if message.type == "error" and ("Content Security Policy" in message.text or "Refused to" in message.text)
            else None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require_built_frontend(dist: Path) -> Path:
    index = dist / "index.html"
    assert index.is_file(), f"the web map is not built ({index} is missing): run `make frontend`"
    return dist


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("the API did not start")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def png_pixels(data: bytes) -> list[list[tuple[int, int, int]]]:
    """The RGB pixels of a PNG (8-bit RGB or RGBA, not interlaced: what chromium's screenshots are),
    decoded here with zlib so that the tests need no imaging library: rows of (r, g, b)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks, header = 8, [], None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind, body = data[position + 4:position + 8], data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    step = 3 if colour_type == 2 else 4
    stride = width * step
    raw = zlib.decompress(b"".join(chunks))
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 255
            elif kind == 4:
                corner = previous[i - step] if i >= step else 0
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append([(line[x], line[x + 1], line[x + 2]) for x in range(0, stride, step)])
        previous = line
    return rows
