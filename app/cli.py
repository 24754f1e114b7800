"""`atlas`: the one command line of Arxiv Atlas, a subcommand per step.

    atlas db start|stop|status|url|upgrade     the database
    atlas db psql [-c SQL]                     psql connected to it
    atlas db reader-url                        URL of the read-only role for analysts and BI tools
    atlas load SOURCE... [--embeddings F.npy]  papers (and vectors) into Postgres
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

from app.core.connections import start_database
from app.core.errors import AtlasError, is_user_facing
from app.core.settings import Settings, documented_settings, get_settings


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

        from app.core.connections import database_url

        start_database(settings)
        url = database_url(settings)
        psql = shutil.which("psql") or str(EmbeddedPostgres(settings).psql_path())
        os.execv(psql, [psql, url, *args.psql_args])
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
def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from etl.load import LoadOptions, embeddings_beside, load_sources

    sources = [Path(p) for p in args.sources]
    embeddings = Path(args.embeddings) if args.embeddings else None
    if args.embeddings == "auto":
        if len(sources) != 1:
            raise CommandError("--embeddings auto needs exactly one source")
        embeddings = embeddings_beside(sources[0])
        if embeddings is None:
            print(f"no {sources[0].name.split('.')[0]}.*.npy beside {sources[0]}: loading without embeddings "
                  "(compute them with `atlas embed`)")
    options = LoadOptions(
        sources=sources,
        fmt=args.format,
        embeddings=embeddings,
        embedding_model=args.embedding_model,
        dataset=args.dataset,
    )
    summary = load_sources(settings, options)
    print(summary.describe())
    if summary.loaded or summary.updated:
        _refresh_after_load(settings)
    return 0


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
        from etl.maps.definitions import default_specs, spec_for

        with connect(settings) as conn:
            if args.name or args.filter:
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
        if not rows:
            print("no maps yet: `atlas maps build` (or `atlas build`)")
        for name, title, count, filters, method, max_level, built_at in rows:
            print(f"{name:<12} {count:>9,} papers  levels 0-{max_level}  {method:<15} "
                  f"{filters or 'all papers':<16} {title}  (built {built_at:%Y-%m-%d %H:%M})")
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

    from app.core.roles import API_ROLE, api_database_url, url_user

    host = args.host or settings.api_host
    port = args.port or settings.api_port
    user = url_user(api_database_url(settings))
    if user != API_ROLE:
        print(f"warning: the API connects as {user}, not as the read-only role {API_ROLE}: run `atlas db upgrade` "
              "(embedded server) or set ATLAS_API_PASSWORD (docs/security.md)", flush=True)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atlas", description="Arxiv Atlas: a map of arXiv papers in Postgres.")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="manage the database")
    db.add_argument("action", choices=["start", "stop", "status", "url", "upgrade", "reader-url", "psql"])
    db.add_argument("psql_args", nargs=argparse.REMAINDER, help="for `psql`: arguments passed on to psql")
    db.set_defaults(handler=cmd_db)

    load = sub.add_parser("load", help="load papers (and embeddings) into the database")
    load.add_argument("sources", nargs="+", help="files to load (gzip allowed)")
    load.add_argument(
        "--format", default="auto", choices=["auto", "seed-pickle", "kaggle", "jsonl", "csv", "parquet"]
    )
    load.add_argument(
        "--embeddings",
        help=".npy of vectors aligned row by row with the (single) source; `auto` takes the one "
        "beside it with the same stem, if there is one",
    )
    load.add_argument(
        "--embedding-model",
        help="model that made the --embeddings vectors (default: taken from the file name, "
        "e.g. arxiv-10k.all-MiniLM-L6-v2.f16.npy)",
    )
    load.add_argument(
        "--dataset", help="name under which the seed's x_umap/y_umap are kept (default: the file's stem)"
    )
    load.set_defaults(handler=cmd_load)

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
    serve.set_defaults(handler=cmd_serve)

    settings_cmd = sub.add_parser("settings", help="print every setting with its value")
    settings_cmd.set_defaults(handler=cmd_settings)
    return parser


# Commands that write papers, vectors, maps or neighbour lists: they connect as atlas_etl when its
# password is known (app/roles.py), never as the API's or the analysts' role.
ETL_COMMANDS = frozenset({"load", "embed", "maps", "build"})
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
