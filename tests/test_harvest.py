"""`atlas harvest` against a small OAI-PMH server on loopback that serves real records of the 10k sample
in pages with resumption tokens, answers one request with 503 Retry-After, and lists a deleted record."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from sample_formats import OAI_HEAD, Sample, oai_page

from app.core.settings import Settings
from etl.harvest import HarvestError, HarvestOptions, harvest, read_state

REPO = Path(__file__).resolve().parent.parent
PAGE_SIZE = 30


class OaiServer:
    """ListRecords in pages of PAGE_SIZE; the first request for page 2 is answered 503 Retry-After: 7."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.requests: list[dict[str, str]] = []
        self.refused_once = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                server.requests.append(query)
                status, headers, body = server.answer(query)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/oai"

    def answer(self, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        xml = {"Content-Type": "text/xml; charset=utf-8"}
        if "resumptionToken" in query:
            page = int(query["resumptionToken"].split("|")[1])
            if page == 1 and not self.refused_once:
                self.refused_once = True
                return 503, {"Retry-After": "7"}, "Retrying after 7 seconds"
        else:
            if query.get("metadataPrefix") != "arXivRaw":
                return 200, xml, OAI_HEAD.format(prefix="?").replace("<ListRecords>\n", "") + (
                    '<error code="cannotDisseminateFormat">no</error></OAI-PMH>')
            since = date.fromisoformat(query["from"]) if "from" in query else None
            if since is not None and since > date(2019, 12, 31):
                head = OAI_HEAD.format(prefix="arXivRaw").replace("<ListRecords>\n", "")
                return 200, xml, head + '<error code="noRecordsMatch">nothing new</error>\n</OAI-PMH>\n'
            page = 0
        rows = self.rows[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
        last = (page + 1) * PAGE_SIZE >= len(self.rows)
        token = "" if last else f"6960524|{page + 1}"
        deleted = (3,) if page == 0 else ()
        return 200, xml, oai_page(rows, "arXivRaw", token=token, cursor=page * PAGE_SIZE, total=len(self.rows),
                                  deleted=deleted)


@pytest.fixture
def oai_server(sample: Sample) -> Iterator[OaiServer]:
    rows = sorted(sample.rows[:80], key=lambda r: r["updated"] or r["created"])
    server = OaiServer(rows)
    thread = threading.Thread(target=server.http.serve_forever, daemon=True)
    thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()


def papers(db: Settings) -> set[str]:
    with psycopg.connect(db.database_url) as conn:
        return {r[0] for r in conn.execute("select arxiv_id from papers")}


def test_a_harvest_follows_tokens_retries_a_503_resumes_and_records_its_date(
    db: Settings, oai_server: OaiServer, tmp_path: Path
) -> None:
    waits: list[float] = []
    options = HarvestOptions(endpoint=oai_server.url, set_spec="cs", delay=0.5, sleep=waits.append,
                             pages_dir=tmp_path / "pages", max_pages=1)
    first = harvest(db, options, echo=lambda line: None)
    assert (first.pages, first.complete, first.loaded) == (1, False, PAGE_SIZE - 1)  # one record deleted
    assert oai_server.requests[0] == {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": "cs"}
    assert read_state(db, options)[1] == "6960524|1"  # it stopped midway: the token is kept

    options.max_pages = None
    second = harvest(db, options, echo=lambda line: None)
    assert second.resumed and second.complete and second.retries == 1
    assert oai_server.requests[1] == {"verb": "ListRecords", "resumptionToken": "6960524|1"}  # refused: 503
    assert oai_server.requests[2] == oai_server.requests[1]
    assert 7.0 in waits and waits.count(0.5) == 1  # Retry-After honoured; the polite delay between pages
    expected = {r["arxiv_id"] for i, r in enumerate(oai_server.rows) if i != 3}
    assert papers(db) == expected
    last_stamp = max(date.fromisoformat(r["updated"] or r["created"]) for r in oai_server.rows)
    assert read_state(db, options)[:2] == (last_stamp, None) == (second.harvested_until, None)
    assert sorted(p.name.split("-page-")[1] for p in (tmp_path / "pages").iterdir()) == [
        "00001.xml", "00001.xml", "00002.xml"]

    asked = len(oai_server.requests)
    third = harvest(db, options, echo=lambda line: None)  # from the recorded date: everything unchanged
    assert oai_server.requests[asked]["from"] == last_stamp.isoformat()
    assert (third.loaded, third.updated, third.complete) == (0, 0, True)
    assert third.unchanged > 0


def test_an_oai_pmh_error_is_one_clear_failure(db: Settings, oai_server: OaiServer, tmp_path: Path) -> None:
    options = HarvestOptions(endpoint=oai_server.url, metadata_prefix="oai_dc", delay=0, sleep=lambda s: None,
                             pages_dir=tmp_path)
    with pytest.raises(HarvestError, match="cannotDisseminateFormat"):
        harvest(db, options, echo=lambda line: None)


def test_atlas_harvest_from_the_command_line(db: Settings, oai_server: OaiServer) -> None:
    env = {**os.environ, "DATABASE_URL": db.database_url, "ATLAS_DATA_DIR": str(db.data_dir)}
    oai_server.refused_once = True  # no 503 here: the command must not sleep 7 s
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "harvest", "--endpoint", oai_server.url, "--from", "2007-01-01",
         "--delay", "0"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "3 pages" in result.stdout and "complete, harvested until" in result.stdout
    assert len(papers(db)) == len(oai_server.rows) - 1
