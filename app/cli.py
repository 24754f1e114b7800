"""`atlas`: the one command line of Arxiv Atlas, a subcommand per step.

    atlas db start|stop|status|url|upgrade     the database
    atlas db psql [-c SQL]                     psql connected to it
    atlas db reader-url                        URL of the read-only role for analysts and BI tools
    atlas load SOURCE... [--embeddings F.npy]  papers (and vectors) into Postgres
    atlas harvest [--set cs] [--from DATE]     new papers from arXiv's OAI-PMH endpoint
    atlas update SOURCE... [--embeddings ...]  the daily path: load + neighbours + maps, touching only what changed
    atlas embed                                compute missing embeddings
    atlas neighbors ARXIV_ID [-k 10]           similar papers
    atlas search "free text" [--mode ...]      keyword, semantic or hybrid search
    atlas maps build [--name N] [--filter F]   2-D maps (UMAP), tiles and topics
    atlas maps place|list|topics               place new papers; list maps; (LLM) topic labels
    atlas build                                every step after loading, skipping what is up to date
    atlas serve [--host H] [--port P]          the API and the web map (uvicorn)
    atlas settings                             every setting with its value and meaning
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.connections import start_database
from app.core.errors import AtlasError, is_user_facing
from app.core.settings import Settings, documented_settings, get_settings

if TYPE_CHECKING:
    from etl.load import LoadOptions


class CommandError(AtlasError):
    """A failure to report in one line, exit code 1 (no traceback)."""


# ---- db -------------------------------------------------------------------------------------
def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from app.core.embedded_server import EmbeddedPostgres

    action = args.action
    if action == "upgrade":
        from app.core.migrate import upgrade_database

        start_database(settings)
        for line in upgrade_database(settings, roles=True):
            print(line)
        return 0
    if action == "reader-url":
        from app.core.roles import reader_url

        start_database(settings)
        print(reader_url(settings))
        return 0
    if settings.database_url and action in {"start", "stop"}:
        print(f"DATABASE_URL is set: `atlas db {action}` only manages the embedded server; nothing to do")
        return 0
    if action == "url":
        from app.core.connections import database_url

        start_database(settings)
        print(database_url(settings))
        return 0
    if action == "psql":
        import os
        import shutil

        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        from app.core.connections import database_url

        start_database(settings)
        params = {k: v for k, v in conninfo_to_dict(database_url(settings)).items() if v is not None}
        env = dict(os.environ)
        # The password travels in psql's environment, never on its command line (visible in `ps`).
        password = params.pop("password", None)
        if password:
            env["PGPASSWORD"] = str(password)
        psql = shutil.which("psql") or str(EmbeddedPostgres(settings).psql_path())
        os.execve(psql, [psql, make_conninfo(**params), *args.psql_args], env)  # noqa: S606 - psql replaces this process; the password travels in its environment
    server = EmbeddedPostgres(settings)
    if action == "start":
        started = server.start()
        state = "started" if started else "already running"
        print(f"embedded PostgreSQL {state} on 127.0.0.1:{server.port} (data in {server.pgdata})")
        return 0
    if action == "stop":
        print("embedded PostgreSQL stopped" if server.stop() else "embedded PostgreSQL was not running")
        return 0
    if action == "status":
        return _print_status(settings)
    raise CommandError(f"unknown db action {action!r}")


def _print_status(settings: Settings) -> int:
    from app.core.connections import connect
    from app.core.embedded_server import EmbeddedPostgres
    from app.core.sql_layer import sql_layer_status

    if not settings.database_url:
        status = EmbeddedPostgres(settings).status()
        state = f"running (pid {status.pid})" if status.running else "stopped"
        if not status.initialised:
            state = "not initialised (run `atlas db start`)"
        print(f"embedded server: {state}, port {status.port}, data in {status.data_dir}")
        if not status.running:
            return 3  # the convention of pg_ctl status for "not running"
    with connect(settings) as conn:
        version = conn.execute("show server_version").fetchone()[0]
        vector = conn.execute("select extversion from pg_extension where extname = 'vector'").fetchone()
        print(f"PostgreSQL {version}, pgvector {vector[0] if vector else 'not installed'}")
        has_papers = conn.execute("select to_regclass('papers') is not null").fetchone()[0]
        if not has_papers:
            print("schema: not created (run `atlas db upgrade`)")
            return 0
        total, embedded = conn.execute("select count(*), count(embedding) from papers").fetchone()
        print(f"papers: {total} ({embedded} with embeddings)")
        layer = sql_layer_status(conn)
        print(layer.describe())
    return 0 if layer.matches else 4  # 4: the database does not run the installed SQL


# ---- load / embed ---------------------------------------------------------------------------
def _load_options(args: argparse.Namespace) -> LoadOptions:
    """LoadOptions from the source options that `atlas load` and `atlas update` share."""
    from etl.load import LoadOptions, embeddings_beside

    sources = [Path(p) for p in args.sources]
    embeddings = Path(args.embeddings) if args.embeddings else None
    if args.embeddings == "auto":
        if len(sources) != 1:
            raise CommandError("--embeddings auto needs exactly one source")
        embeddings = embeddings_beside(sources[0])
        if embeddings is None:
            print(f"no {sources[0].name.split('.')[0]}.*.npy beside {sources[0]}: loading without embeddings "
                  "(compute them with `atlas embed`)")
    return LoadOptions(
        sources=sources,
        fmt=args.format,
        embeddings=embeddings,
        embedding_model=args.embedding_model,
        dataset=args.dataset,
        max_reject_rate=args.max_reject_rate,
    )


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from etl.load import load_sources

    summary = load_sources(settings, _load_options(args))
    print(summary.describe())
    if summary.loaded or summary.updated:
        _refresh_after_load(settings)
    return EXIT_TOO_MANY_REJECTS if summary.failed else 0


EXIT_TOO_MANY_REJECTS = 3  # `atlas load`: every row rejected, or more than --max-reject-rate (1: structural)


def _refresh_after_load(settings: Settings) -> None:
    """New papers land on the existing maps and get neighbour lists (when those exist at all)."""
    from app.core.connections import connect

    with connect(settings) as conn:
        has_maps, has_neighbors = conn.execute(
            "select exists (select 1 from maps), exists (select 1 from paper_neighbors)"
        ).fetchone()
    if has_maps:
        from etl.maps.place import place_papers

        for placed in place_papers(settings):
            if placed.placed:
                print(placed.describe())
    if has_neighbors:
        from etl.neighbors import compute_neighbors

        print(compute_neighbors(settings, k=settings.neighbors_k).describe())


def cmd_harvest(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import date

    from etl.harvest import HarvestOptions, harvest

    options = HarvestOptions(
        endpoint=args.endpoint, metadata_prefix=args.metadata_prefix, set_spec=args.set,
        from_date=date.fromisoformat(args.from_date) if args.from_date else None,
        until_date=date.fromisoformat(args.until) if args.until else None,
        delay=args.delay, max_pages=args.max_pages,
    )
    summary = harvest(settings, options)
    print(summary.describe())
    if summary.loaded or summary.updated:
        _refresh_after_load(settings)
    return 0


def cmd_update(args: argparse.Namespace, settings: Settings) -> int:
    from etl.update import update_from_sources

    options = _load_options(args)
    options.progress = False
    summary = update_from_sources(settings, options, echo=lambda line: print(line, flush=True))
    print(summary.describe())
    return 0


def cmd_embed(args: argparse.Namespace, settings: Settings) -> int:
    from etl.embed import embed_missing

    report = embed_missing(settings, limit=args.limit)
    print(report)
    return 0


# ---- maps / build ---------------------------------------------------------------------------
def cmd_maps(args: argparse.Namespace, settings: Settings) -> int:
    from app.core.connections import connect

    if args.action == "build":
        from etl.maps.build import build_map
        from etl.maps.definitions import default_specs, spec_for, stored_spec

        with connect(settings) as conn:
            # `--name N` alone rebuilds map N as it was defined; the old map serves until the new one commits.
            stored = stored_spec(conn, args.name) if args.name and not args.filter else None
            if stored is not None:
                specs = [stored]
            elif args.name or args.filter:
                specs = [spec_for(conn, args.name, args.filter or [])]
            else:
                specs = default_specs(conn, settings.map_min_papers)
        for spec in specs:
            print(build_map(settings, spec).describe(), flush=True)
        if args.llm_labels:
            _llm_labels(settings, [s.name for s in specs])
    elif args.action == "place":
        from etl.maps.place import place_papers

        for summary in place_papers(settings, [args.name] if args.name else None):
            print(summary.describe())
    elif args.action == "topics":
        from etl.maps.topics import build_map_topics

        with connect(settings) as conn:
            rows = _named_maps(conn, args.name)
            for map_id, name in rows:
                with conn.transaction():
                    result = build_map_topics(conn, map_id, seed=settings.map_seed)
                print(f"map {name}: {len(result.topics)} topics")
        if args.llm_labels:
            _llm_labels(settings, [name for _, name in rows])
    elif args.action == "list":
        with connect(settings) as conn:
            rows = conn.execute(
                "select name, title, paper_count, coalesce(array_to_string(filter, ','), ''), "
                "projection->>'method', max_level, built_at from maps order by name"
            ).fetchall()
            from etl.maps.place import placed_shares

            shares = placed_shares(conn)
        if not rows:
            print("no maps yet: `atlas maps build` (or `atlas build`)")
        for name, title, count, filters, method, max_level, built_at in rows:
            due = shares.get(name, 0.0) > settings.map_rebuild_share
            print(f"{name:<12} {count:>9,} papers  levels 0-{max_level}  {method:<15} "
                  f"{filters or 'all papers':<16} {title}  (built {built_at:%Y-%m-%d %H:%M})"
                  + (f"  rebuild due: {shares[name]:.1%} placed since" if due else ""))
    return 0


def _named_maps(conn, name: str | None) -> list[tuple[int, str]]:
    rows = conn.execute(
        "select id, name from maps where %s::text is null or name = %s order by id", (name, name)
    ).fetchall()
    if name and not rows:
        raise CommandError(f"no map named {name} (see `atlas maps list`)")
    return rows


def _llm_labels(settings: Settings, names: list[str]) -> None:
    from app.core.connections import connect
    from etl.maps.llm_labels import label_topics_with_llm

    with connect(settings) as conn:
        for map_id, name in _named_maps(conn, None):
            if name not in names:
                continue
            with conn.transaction():
                summary = label_topics_with_llm(conn, settings, map_id)
            print(f"map {name}: LLM labels, {summary.asked} asked, {summary.cached} from the cache")


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from etl.build import build_all

    build_all(settings, echo=lambda line: print(line, flush=True))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.core.roles import API_ROLE, api_database_url, owner_powers, url_user

    host = args.host or settings.api_host
    port = args.port or settings.api_port
    user = url_user(api_database_url(settings))
    powers = owner_powers(api_database_url(settings))
    if user != API_ROLE or powers:
        what = ", ".join(powers) or "not the read-only role"
        if not args.allow_owner:
            print(f"error: the API would connect as {user} ({what}), not as the read-only role {API_ROLE}: run "
                  "`atlas db upgrade` (embedded server) or set ATLAS_API_PASSWORD (docs/security.md); "
                  "--allow-owner runs it anyway", file=sys.stderr, flush=True)
            return 2
        print(f"warning: the API connects as {user} ({what}), not as the read-only role {API_ROLE} "
              "(--allow-owner)", flush=True)
    print(f"Arxiv Atlas on http://{host}:{port}/  (API schema: /schema)", flush=True)
    uvicorn.run("app.api:create_app", factory=True, host=host, port=port, workers=settings.api_workers,
                log_level="info", proxy_headers=True)
    return 0


# ---- neighbours / search --------------------------------------------------------------------
def cmd_neighbors(args: argparse.Namespace, settings: Settings) -> int:
    from app.services.paper_search import run_once, similar_papers

    hits = run_once(settings, lambda pool, _models: similar_papers(pool, args.arxiv_id, args.k))
    _print_hits(hits, score_label="similarity")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from app.services.paper_search import Mode, SearchQuery, search_once

    query = SearchQuery(text=args.query, mode=Mode(args.mode), top_k=max(args.k, 50), top_n=args.k,
                        rerank=args.rerank, category=args.category)
    result = search_once(settings, query)
    if result.semantic:  # hybrid without a query model ran as keyword search
        print(f"note: semantic search {result.semantic}; these are keyword results", file=sys.stderr)
    if result.rerank_skipped:
        print(f"note: not reranked: {result.rerank_skipped}", file=sys.stderr)
    if not result.hits:
        print("nothing found")
        return 0
    _print_hits(result.hits, score_label="rerank score" if result.reranked else "score",
                score_key="rerank_score" if result.reranked else "score")
    return 0


def _print_hits(hits: Sequence[dict], score_label: str, score_key: str = "score") -> None:
    for rank, hit in enumerate(hits, start=1):
        published = hit["published"].date().isoformat() if hit.get("published") else "?"
        authors = hit.get("authors") or []
        first = authors[0] + (" et al." if len(authors) > 1 else "") if authors else ""
        print(
            f"{rank:>3}. {hit['arxiv_id']:<18} {hit[score_key]:.3f}  [{hit['main_category']}, {published}] "
            f"{hit['title']}" + (f" — {first}" if first else "")
        )
    print(f"({len(hits)} results; {score_label} in the second column)")


# ---- settings -------------------------------------------------------------------------------
def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    for env, default, doc in documented_settings():
        field_name = next(
            name for name, f in Settings.__dataclass_fields__.items() if f.metadata["env"] == env
        )
        value = getattr(settings, field_name)
        shown = "***" if value and ("KEY" in env or "PASSWORD" in env) else value
        if isinstance(shown, str) and "://" in shown:
            shown = redact_url(shown)
        print(f"{env} = {shown}\n    {doc} (default: {default})")
    return 0


def redact_url(url: str) -> str:
    """The URL (or comma-separated URLs) with every password replaced by ***, for printing."""
    import re

    return re.sub(r"(://[^:/@,\s]*:)[^@,\s]*@", r"\1***@", url)


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    """The source options that `atlas load` and `atlas update` share."""
    parser.add_argument("sources", nargs="+", help="files or folders to load (gzip allowed; a folder: every "
                        "supported file inside it, sorted by name)")
    parser.add_argument(
        "--format", default="auto",
        choices=["auto", "seed-pickle", "kaggle", "jsonl", "json", "csv", "parquet", "oai-pmh", "atom"]
    )
    parser.add_argument(
        "--embeddings",
        help=".npy of vectors aligned row by row with the (single) source; `auto` takes the one "
        "beside it with the same stem, if there is one",
    )
    parser.add_argument(
        "--embedding-model",
        help="model that made the --embeddings vectors (default: taken from the file name, "
        "e.g. arxiv-10k.all-MiniLM-L6-v2.f16.npy)",
    )
    parser.add_argument(
        "--dataset", help="name under which the seed's x_umap/y_umap are kept (default: the file's stem)"
    )
    parser.add_argument(
        "--max-reject-rate", type=float, default=0.5,
        help=f"exit with code {EXIT_TOO_MANY_REJECTS} when more than this share of the rows is rejected, or "
        "every row (default 0.5; the good rows load either way)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atlas", description="Arxiv Atlas: a map of arXiv papers in Postgres.")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="manage the database")
    db.add_argument("action", choices=["start", "stop", "status", "url", "upgrade", "reader-url", "psql"])
    db.add_argument("psql_args", nargs=argparse.REMAINDER, help="for `psql`: arguments passed on to psql")
    db.set_defaults(handler=cmd_db)

    load = sub.add_parser("load", help="load papers (and embeddings) into the database")
    _add_source_options(load)
    load.set_defaults(handler=cmd_load)

    update = sub.add_parser("update", help="the daily path: load, embed, neighbour lists, placement on every "
                            "map, only the tiles and topics that changed; one summary")
    _add_source_options(update)
    update.set_defaults(handler=cmd_update)

    harvest = sub.add_parser("harvest", help="load new papers from an OAI-PMH endpoint (arXiv's by default), "
                             "resuming where the last harvest stopped")
    harvest.add_argument("--endpoint", default="https://oaipmh.arxiv.org/oai", help="OAI-PMH base URL")
    harvest.add_argument("--metadata-prefix", default="arXivRaw", choices=["arXivRaw", "arXiv", "oai_dc"])
    harvest.add_argument("--set", help="OAI-PMH set, e.g. cs or physics:hep-th (default: everything)")
    harvest.add_argument("--from", dest="from_date", help="YYYY-MM-DD (default: where the last harvest ended)")
    harvest.add_argument("--until", help="YYYY-MM-DD (default: up to now)")
    harvest.add_argument("--delay", type=float, default=3.0, help="seconds between requests (default 3)")
    harvest.add_argument("--max-pages", type=int, help="stop after this many pages (the next harvest resumes)")
    harvest.set_defaults(handler=cmd_harvest)

    embed = sub.add_parser("embed", help="compute embeddings for papers that have none")
    embed.add_argument("--limit", type=int, default=None, help="embed at most this many papers")
    embed.set_defaults(handler=cmd_embed)

    neighbors = sub.add_parser("neighbors", help="papers most similar to one paper")
    neighbors.add_argument("arxiv_id")
    neighbors.add_argument("-k", type=int, default=10)
    neighbors.set_defaults(handler=cmd_neighbors)

    search = sub.add_parser("search", help="search papers by keyword, meaning or both")
    search.add_argument("query")
    search.add_argument("--mode", default="hybrid", choices=["title", "author", "keyword", "semantic", "hybrid"])
    search.add_argument("--rerank", action="store_true", help="rerank the candidates with the cross-encoder")
    search.add_argument("-k", type=int, default=10)
    search.add_argument("--category", help="main category (cs.CL) or archive (cs)")
    search.set_defaults(handler=cmd_search)

    maps = sub.add_parser("maps", help="2-D maps of the papers: build, place new papers, list, topics")
    maps.add_argument("action", choices=["build", "place", "list", "topics"])
    maps.add_argument("--name", help="build: name of the map (default: from the filter, or all); "
                      "place/topics: only this map")
    maps.add_argument("--filter", nargs="+", metavar="CODE",
                      help="build: archives or categories of the map's papers (cs, cs.CL, hep-th ...)")
    maps.add_argument("--llm-labels", action="store_true",
                      help="build/topics: label topics with the chat model ATLAS_LLM_MODEL (cached)")
    maps.set_defaults(handler=cmd_maps)

    build = sub.add_parser("build", help="every step after loading (embeddings, index, maps, tiles, topics, "
                           "neighbours), skipping what is up to date")
    build.set_defaults(handler=cmd_build)

    serve = sub.add_parser("serve", help="run the API and the web map")
    serve.add_argument("--host", help="address to listen on (default ATLAS_API_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default ATLAS_API_PORT)")
    serve.add_argument("--allow-owner", action="store_true",
                       help="run even when the API would connect as the database owner or a superuser")
    serve.set_defaults(handler=cmd_serve)

    settings_cmd = sub.add_parser("settings", help="print every setting with its value")
    settings_cmd.set_defaults(handler=cmd_settings)
    return parser


# Commands that write papers, vectors, maps or neighbour lists: they connect as atlas_etl when its
# password is known (app/roles.py), never as the API's or the analysts' role.
ETL_COMMANDS = frozenset({"load", "harvest", "update", "embed", "maps", "build"})
# Commands that need a running database (`db` starts it itself, for the actions that need it).
DATABASE_COMMANDS = ETL_COMMANDS | {"neighbors", "search", "serve"}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
        if args.command in DATABASE_COMMANDS:
            start_database(settings)  # the one place a command starts the embedded server
        if args.command in ETL_COMMANDS:
            from app.core.roles import settings_for_etl

            settings = settings_for_etl(settings)
        return args.handler(args, settings)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line for the person at the terminal
        if not is_user_facing(exc):
            raise
        print(f"atlas: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
