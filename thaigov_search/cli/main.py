"""`thaigov-search`: the one command-line entry point (index, search, get, similar, stats, serve, eval, bench;
analytics, backup, switch from cli/portal.py; adapt from cli/adapt.py)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from thaigov_search.cli.common import UsageError, print_json, settings_from
from thaigov_search.core.models import MODEL_HELP
from thaigov_search.core.modes import BACKENDS, FACETS, LANGUAGES, MODES, SORT_ORDERS

logger = logging.getLogger("thaigov_search")


# --------------------------------------------------------------------------------- commands
def cmd_index(args: argparse.Namespace) -> int:
    from thaigov_search.indexing.run import run_index

    if not args.input and not args.delete:
        raise UsageError("Nothing to do: give --input PATH ... and/or --delete ID ...")
    if args.ray_workers is not None and args.ray is None:
        raise UsageError("--workers sets the number of Ray workers: give --ray auto (or a cluster's address) too")
    settings = settings_from(args)
    report = run_index(args.input or [], Path(args.index_dir), settings, limit=args.limit, delete_ids=args.delete or [],
                       progress=not args.quiet, wait=0 if args.no_wait else None, ray_address=args.ray)
    if args.json:
        print_json({k: v for k, v in report.__dict__.items() if k != "warnings"} | {"warnings": len(report.warnings)})
    else:
        print(report.summary())
    return 0


def open_searcher(args: argparse.Namespace):
    from thaigov_search.search.searcher import Searcher

    # One query per process: FTS5 answers it directly; loading the in-memory BM25 index would cost more.
    return Searcher(Path(args.index_dir), settings_from(args).model_copy(update={"lexical_engine": "fts5"}))


def cmd_search(args: argparse.Namespace) -> int:
    from thaigov_search.core.filters import Filters
    from thaigov_search.search.validation import validate_date_range

    date_from, date_to = validate_date_range(args.date_from, args.date_to)
    searcher = open_searcher(args)
    searcher.warm_up()  # took_ms then measures the search, not the model load
    facets = tuple(f.strip() for f in (args.facets or "").split(",") if f.strip())
    response = searcher.search(
        args.query, k=args.k, mode=args.mode, filters=Filters(date_from, date_to, args.category, args.language),
        sort=args.sort, recency=args.recency, collapse=args.collapse, facets=facets,
    )
    if args.json:
        data = response.to_dict()
        data.pop("total")
        print_json(data)
    else:
        print(f"{response.total} result(s) for {args.query!r} in {response.took_ms:.0f} ms")
        if response.did_you_mean:
            print(f"did you mean: {response.did_you_mean}")
        for rank, r in enumerate(response.results, 1):
            folded = f", {r.duplicates} other version(s)" if r.duplicates else ""
            print(f"{rank:>2}. [{r.id}] {r.title}  ({r.date or 'no date'}, {r.category}, score {r.score:.3f}{folded})")
            print(f"    {r.snippet.replace('<mark>', '[').replace('</mark>', ']')}")
        for name, counts in response.facets.items():
            print(f"{name}: " + ", ".join(f"{c.value} ({c.count})" for c in counts))
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    response = open_searcher(args).suggest(args.query, k=args.k)
    if args.json:
        print_json(response.to_dict())
    else:
        for s in response.suggestions:
            print(s.text)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    searcher = open_searcher(args)
    article = searcher.get(args.id)
    if article is None:
        raise UsageError(f"No article with id {args.id!r} in {args.index_dir}.")
    twin = searcher.twin_of(args.id)
    data = article.as_document() | {"duplicates": searcher.duplicates_of(args.id) or [],
                                    "twin": twin.model_dump() if twin else None}
    if args.json:
        print_json(data)
    else:
        print(f"{data['title']}\n{data['date'] or ''} {data['category']} {data['url']}\n\n{data['body']}")
        if twin:
            print(f"\n{'Read in English' if twin.language == 'en' else 'อ่านภาษาไทย'}: {twin.id} {twin.title}")
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    response = open_searcher(args).similar(args.id, k=args.k)
    if response is None:
        raise UsageError(f"No article with id {args.id!r} in {args.index_dir}.")
    if args.json:
        data = response.to_dict()
        data.pop("total")
        print_json(data)
    else:
        for rank, r in enumerate(response.results, 1):
            print(f"{rank:>2}. [{r.id}] {r.title}  ({r.date or 'no date'}, score {r.score:.3f})")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = open_searcher(args).stats()
    if args.json:
        print_json(stats)
    else:
        for key, value in stats.items():
            print(f"{key}: {value}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from thaigov_search.api.app import serve

    serve(Path(args.index_dir), settings_from(args))
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from thaigov_search.store.upgrade import upgrade_index

    done = upgrade_index(Path(args.index_dir))
    print(f"{args.index_dir}: " + ("upgraded to the current index format" if done else "already in the current format"))
    return 0


EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the index's writer lock (index --no-wait); try again later
EXIT_NO_SPACE = 74  # EX_IOERR: the disk filled up or `ulimit -f` was reached; committed batches are kept


# ----------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thaigov-search", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    def index_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--index-dir", required=True, help="index directory")

    p = add("index", cmd_index, "Parse, chunk, embed and store articles (incremental, crash-safe).")
    p.add_argument("--input", nargs="+", help="shared JSONL (.jsonl/.xz/.gz), generic JSONL, or a directory of .txt files")
    index_dir(p)
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--backend", choices=BACKENDS, help="embedding backend")
    p.add_argument("--limit", type=int, help="index at most N articles")
    p.add_argument("--delete", nargs="+", metavar="ID", help="remove these article ids")
    p.add_argument("--passage-tokens", type=int, dest="passage_tokens", help="passage size in model tokens (default 256)")
    p.add_argument("--max-passages", type=int, dest="max_passages_per_article", help="embed at most N passages per article")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-wait", action="store_true", dest="no_wait",
                   help="if another run is writing this index, exit at once (code 75) instead of waiting for it")
    p.add_argument("--ray", metavar="auto|local|ADDRESS",
                   help="parse, chunk and embed on Ray workers (pip install 'thaigov-search[ray]'); this process stays "
                        "the one writer. auto: the cluster running here, else a local one; or a cluster's HOST:PORT")
    p.add_argument("--workers", type=int, dest="ray_workers",
                   help="Ray workers, each with its own model (default: as many as the cluster's CPUs hold)")

    p = add("search", cmd_search, "Search an index.")
    index_dir(p)
    p.add_argument("query")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--date-from")
    p.add_argument("--date-to")
    p.add_argument("--category")
    p.add_argument("--language", choices=LANGUAGES, help="only releases in this language")
    p.add_argument("--sort", choices=SORT_ORDERS, default="relevance",
                   help="relevance, or the whole result set by date (date_desc: newest first)")
    p.add_argument("--recency", type=float, metavar="DAYS",
                   help="recency half-life in days, applied after fusion (0 = off; default: the setting, 0)")
    p.add_argument("--facets", metavar="LIST", help=f"comma list of {', '.join(FACETS)}: counts over the whole result set")
    p.add_argument("--collapse", action=argparse.BooleanOptionalAction, default=None,
                   help="fold near-duplicate versions into one result (default: the setting, on; --no-collapse shows every version)")
    p.add_argument("--model")
    p.add_argument("--json", action="store_true")

    p = add("suggest", cmd_suggest, "Complete a half-typed query from phrases of the index's titles.")
    index_dir(p)
    p.add_argument("query")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--json", action="store_true")

    p = add("get", cmd_get, "Print one article.")
    index_dir(p)
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    p = add("similar", cmd_similar, "Related articles (never the article itself).")
    index_dir(p)
    p.add_argument("id")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--json", action="store_true")

    p = add("stats", cmd_stats, "Index statistics.")
    index_dir(p)
    p.add_argument("--json", action="store_true")

    p = add("upgrade", cmd_upgrade, "Convert an index of an older format in place (no re-embedding).")
    index_dir(p)

    p = add("serve", cmd_serve, "Serve the search API and web page.")
    index_dir(p)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, help="worker processes (default 1); they share the index's pages")

    for register in extra_commands():
        register(sub)
    return parser


def extra_commands() -> list[Callable]:
    """Subcommands that live next to their implementation (eval, bench, analytics/backup/switch, adapt).

    Imported unguarded on purpose: a broken import (a missing dependency, a bug) must stop the
    program with its traceback, not make `eval` or `bench` silently vanish from --help (issue #15).
    `adapt`'s optional dependency (peft) is imported only when it trains, so --help never needs it.
    """
    from thaigov_search.cli.adapt import register as register_adapt
    from thaigov_search.cli.bench import register as register_bench
    from thaigov_search.cli.evaluation import register as register_eval
    from thaigov_search.cli.portal import register as register_portal

    return [register_eval, register_bench, register_portal, register_adapt]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from thaigov_search.embedding.embedder import quiet_libraries
    from thaigov_search.store.schema import IndexError_
    from thaigov_search.store.write_guard import IndexBusyError, IndexWriteError, ignore_file_size_signal

    quiet_libraries()
    ignore_file_size_signal()
    try:
        return int(args.func(args) or 0)
    except IndexBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except IndexWriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_SPACE
    except (UsageError, IndexError_, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; everything committed so far is kept, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
