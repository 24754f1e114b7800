"""`atlas harvest`: keep a database current from an OAI-PMH endpoint (arXiv's: https://oaipmh.arxiv.org/oai).

One harvest asks for ListRecords (metadata format, optional set, from a date) and follows the
resumption tokens page by page. Each page is saved as a file under `pages_dir` and loaded by
`atlas load`'s own path (`load_sources`, format oai-pmh), in its own transaction, so that papers
from a harvest are parsed, checked and merged exactly like papers from a file. After each page the
token is recorded in `harvest_state`: a harvest that stops (killed, network down) resumes with it.
When the list is complete, the latest datestamp seen becomes `harvested_until`, and the next
harvest starts from there (OAI-PMH's `from` is inclusive: that day's records come again and load
as unchanged).

Politeness: `delay` seconds between requests; a 503 (arXiv's "come back later") waits as long as its
Retry-After says, other failures back off exponentially, up to `max_retries` in a row.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from xml.etree import ElementTree

from app.core.connections import connect
from app.core.records import StructuralError
from app.core.settings import Settings
from etl.load import LoadOptions, LoadSummary, load_sources

ARXIV_OAI_ENDPOINT = "https://oaipmh.arxiv.org/oai"
OAI_NS = "{http://www.openarchives.org/OAI/2.0/}"
USER_AGENT = "arxiv-atlas-harvester (+https://github.com/; polite: one request at a time)"
MAX_RETRY_AFTER_SECONDS = 600


class HarvestError(StructuralError):
    """The endpoint cannot be harvested (refused the request, kept failing, or answered an OAI-PMH error)."""


@dataclass
class HarvestOptions:
    endpoint: str = ARXIV_OAI_ENDPOINT
    metadata_prefix: str = "arXivRaw"  # versions and dates included; also arXiv or oai_dc
    set_spec: str | None = None  # e.g. "cs", "physics:hep-th"
    from_date: date | None = None  # default: where the last complete harvest ended
    until_date: date | None = None
    delay: float = 3.0  # seconds between requests
    max_retries: int = 5
    backoff: float = 2.0  # first wait after a failure; doubles each time
    timeout: float = 60.0
    pages_dir: Path | None = None  # default: $ATLAS_DATA_DIR/harvest
    max_pages: int | None = None  # stop after this many pages (the token is kept: the next run resumes)
    sleep: Callable[[float], None] = time.sleep


@dataclass
class HarvestSummary:
    pages: int = 0
    records: int = 0
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    retries: int = 0
    resumed: bool = False
    complete: bool = False
    harvested_until: date | None = None
    loads: list[LoadSummary] = field(default_factory=list)

    def describe(self) -> str:
        state = (f"complete, harvested until {self.harvested_until}" if self.complete
                 else "stopped midway: the next harvest resumes from its resumption token")
        return (f"{self.pages} pages, {self.records} rows in: {self.loaded} loaded, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.rejected} rejected; {self.retries} retries"
                f"{' (resumed)' if self.resumed else ''}; {state}")


def _state_key(options: HarvestOptions) -> tuple[str, str, str]:
    return options.endpoint, options.metadata_prefix, options.set_spec or ""


def read_state(settings: Settings, options: HarvestOptions) -> tuple[date | None, str | None, date | None]:
    """(harvested_until, resumption_token, the from date the token belongs to) for these options."""
    with connect(settings) as conn:
        row = conn.execute(
            "select harvested_until, resumption_token, token_from from harvest_state "
            "where endpoint = %s and metadata_prefix = %s and set_spec = %s", _state_key(options)
        ).fetchone()
    return (row[0], row[1], row[2]) if row else (None, None, None)


def _save_state(settings: Settings, options: HarvestOptions, token: str | None, token_from: date | None,
                harvested_until: date | None, pages: int, records: int) -> None:
    with connect(settings) as conn:
        conn.execute(
            """
            insert into harvest_state as h (endpoint, metadata_prefix, set_spec, harvested_until, resumption_token,
                                            token_from, pages, records)
            values (%s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (endpoint, metadata_prefix, set_spec) do update set
                harvested_until = coalesce(excluded.harvested_until, h.harvested_until),
                resumption_token = excluded.resumption_token, token_from = excluded.token_from,
                pages = h.pages + excluded.pages, records = h.records + excluded.records, updated_at = now()
            """,
            (*_state_key(options), harvested_until, token, token_from, pages, records),
        )
        conn.commit()


def request_url(options: HarvestOptions, token: str | None, from_date: date | None) -> str:
    if token:
        query = {"verb": "ListRecords", "resumptionToken": token}
    else:
        query = {"verb": "ListRecords", "metadataPrefix": options.metadata_prefix}
        if options.set_spec:
            query["set"] = options.set_spec
        if from_date:
            query["from"] = from_date.isoformat()
        if options.until_date:
            query["until"] = options.until_date.isoformat()
    return f"{options.endpoint}?{urllib.parse.urlencode(query)}"


def _retry_after(error: urllib.error.HTTPError, fallback: float) -> float:
    value = error.headers.get("Retry-After", "") if error.headers else ""
    try:
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return fallback


def fetch(url: str, options: HarvestOptions, summary: HarvestSummary) -> bytes:
    """The body of `url`; a 503 waits its Retry-After, other failures back off, up to max_retries in a row."""
    wait = options.backoff
    for attempt in range(options.max_retries + 1):
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310 - the endpoint is http(s), checked when the options are made
        try:
            with urllib.request.urlopen(request, timeout=options.timeout) as response:  # noqa: S310 - http(s) only
                return response.read()
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 500, 502, 503, 504):
                raise HarvestError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            pause = _retry_after(exc, wait) if exc.code in (429, 503) else wait
            failure = f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            pause, failure = wait, f"{type(exc).__name__}: {exc}"
        if attempt == options.max_retries:
            raise HarvestError(f"{url}: still failing after {options.max_retries} retries ({failure})")
        summary.retries += 1
        options.sleep(pause)
        wait *= 2
    raise AssertionError("unreachable")


def _page_facts(body: bytes, url: str) -> tuple[str | None, list[date], bool]:
    """(next resumption token or None, record datestamps, whether it is a noRecordsMatch answer)."""
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - expat: no external entities, bounded expansion
    except ElementTree.ParseError as exc:
        raise HarvestError(f"{url}: the answer is not XML: {exc}") from None
    error = root.find(f"{OAI_NS}error")
    if error is not None:
        if error.get("code") == "noRecordsMatch":
            return None, [], True
        raise HarvestError(f"{url}: OAI-PMH error {error.get('code')}: {(error.text or '').strip()}")
    listing = root.find(f"{OAI_NS}ListRecords")
    if listing is None:
        raise HarvestError(f"{url}: not a ListRecords answer")
    stamps = []
    for stamp in listing.iter(f"{OAI_NS}datestamp"):
        try:
            stamps.append(date.fromisoformat((stamp.text or "").strip()[:10]))
        except ValueError:
            continue
    token = listing.find(f"{OAI_NS}resumptionToken")
    return ((token.text or "").strip() or None) if token is not None else None, stamps, False


def harvest(settings: Settings, options: HarvestOptions, echo: Callable[[str], None] = print) -> HarvestSummary:
    """Harvest from where the last harvest stopped or ended; load every page; record the progress."""
    summary = HarvestSummary()
    harvested_until, token, token_from = read_state(settings, options)
    from_date = options.from_date or harvested_until
    if token and (options.from_date is None or options.from_date == token_from):
        summary.resumed = True
        from_date = token_from
        echo(f"resuming the harvest from {from_date or 'the beginning'} with its resumption token")
    else:
        token = None
    folder = options.pages_dir or settings.data_dir / "harvest"
    folder.mkdir(parents=True, exist_ok=True)
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    latest = harvested_until
    first_request = True
    while True:
        if not first_request and options.delay > 0:
            options.sleep(options.delay)
        first_request = False
        url = request_url(options, token, from_date)
        body = fetch(url, options, summary)
        next_token, stamps, nothing = _page_facts(body, url)
        if stamps:
            latest = max([*stamps, latest] if latest else stamps)
        if not nothing:
            page = folder / f"{run}-page-{summary.pages + 1:05d}.xml"
            page.write_bytes(body)
            loaded = load_sources(settings, LoadOptions(sources=[page], fmt="oai-pmh", progress=False,
                                                        max_reject_rate=1.0))
            summary.loads.append(loaded)
            summary.records += loaded.rows_in
            summary.loaded += loaded.loaded
            summary.updated += loaded.updated
            summary.unchanged += loaded.unchanged
            summary.rejected += loaded.rejected
            echo(f"page {summary.pages + 1}: {loaded.describe()}")
        summary.pages += 1
        token = next_token
        done = token is None
        _save_state(settings, options, token, from_date, latest if done else None, 1, 0 if nothing else
                    summary.loads[-1].rows_in)
        if done:
            summary.complete = True
            summary.harvested_until = latest
            return summary
        if options.max_pages is not None and summary.pages >= options.max_pages:
            return summary
