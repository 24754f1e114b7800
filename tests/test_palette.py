"""The web map's category colours: archives of the real 10k sample are told apart (CIEDE2000).

The palette is the frontend's own code (frontend/src/colors.js), run by Node.js; the colour
difference is CIEDE2000 (Sharma, Wu and Dalal's formulation) computed here.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MIN_ARCHIVE_DISTANCE = 10.0  # the palette was picked so that its closest two colours are 10.6 apart
MIN_BACKGROUND_DISTANCE = 25.0


def srgb_to_lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    def linear(channel: float) -> float:
        channel /= 255
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar**7 / (c_bar**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    if c1p * c2p == 0:
        dhp = 0.0
    elif abs(h2p - h1p) <= 180:
        dhp = h2p - h1p
    else:
        dhp = h2p - h1p - 360 if h2p - h1p > 180 else h2p - h1p + 360
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dhp / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(h_bar - 30)) + 0.24 * math.cos(math.radians(2 * h_bar))
         + 0.32 * math.cos(math.radians(3 * h_bar + 6)) - 0.20 * math.cos(math.radians(4 * h_bar - 63)))
    d_theta = 30 * math.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_bar**7 / (cp_bar**7 + 25**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_bar, 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h))


def test_ciede2000_matches_the_published_test_data() -> None:
    # Sharma, Wu and Dalal (2005), table 1: pairs 1, 7 and 17
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000((50, 0, 0), (50, -1, 2)) == pytest.approx(2.3669, abs=1e-4)
    assert ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)


@pytest.fixture(scope="module")
def archive_colours(shared_data: Path) -> dict[str, tuple[int, int, int]]:
    """Each archive of the 10k sample with the colour the web map gives it on a map of all papers."""
    if shutil.which("node") is None or not (REPO / "frontend" / "node_modules" / "d3").exists():
        pytest.fail("Node.js and frontend/node_modules are needed (`make frontend`)")
    categories: dict[str, str] = {}
    with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt") as lines:
        for line in lines:
            for code in json.loads(line)["categories"]:
                categories.setdefault(code.split(".")[0], code)
    codes = sorted(categories.values())
    script = ("import { categoryPalette } from './src/colors.js';"
              f"console.log(JSON.stringify(categoryPalette({json.dumps(codes)})));")
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=REPO / "frontend",
                         capture_output=True, text=True, check=True).stdout
    return {code.split(".")[0]: tuple(colour) for code, colour in zip(codes, json.loads(out), strict=True)}


def test_no_two_archives_of_the_sample_look_alike(archive_colours: dict) -> None:
    assert len(archive_colours) >= 30
    labs = {archive: srgb_to_lab(colour) for archive, colour in archive_colours.items()}
    closest = min(itertools.combinations(labs, 2), key=lambda pair: ciede2000(labs[pair[0]], labs[pair[1]]))
    distance = ciede2000(labs[closest[0]], labs[closest[1]])
    assert distance >= MIN_ARCHIVE_DISTANCE, f"{closest} are {distance:.1f} apart"
    for background in ((255, 255, 255), (17, 17, 17)):
        worst = min(ciede2000(lab, srgb_to_lab(background)) for lab in labs.values())
        assert worst >= MIN_BACKGROUND_DISTANCE, (background, worst)


def test_the_archives_that_shared_a_colour_no_longer_do(archive_colours: dict) -> None:
    # the examples: math, q-alg and cmp-lg shared one olive; cs and nlin one green
    for group in (("math", "q-alg", "cmp-lg"), ("cs", "nlin")):
        labs = [srgb_to_lab(archive_colours[a]) for a in group]
        assert min(ciede2000(a, b) for a, b in itertools.combinations(labs, 2)) >= MIN_ARCHIVE_DISTANCE, group
