"""`thaigov-search`: the one command-line entry point (index, search, get, similar, stats, serve, eval, bench)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from thaigov_search.config import Settings

logger = logging.getLogger("thaigov_search")


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment settings, overridden by the flags the user gave."""
    overrides = {}
    for flag in ("model", "backend", "passage_tokens", "max_passages_per_article", "batch_size", "host", "port"):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[flag] = value
    return Settings(**overrides)


def print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


# --------------------------------------------------------------------------------- commands
def cmd_index(args: argparse.Namespace) -> int:
    from indexer.pipeline import run_index

    if not args.input and not args.delete:
        raise UsageError("Nothing to do: give --input PATH ... and/or --delete ID ...")
    settings = settings_from(args)
    report = run_index(args.input or [], Path(args.index_dir), settings, limit=args.limit, delete_ids=args.delete or [],
                       progress=not args.quiet)
    if args.json:
        print_json({k: v for k, v in report.__dict__.items() if k != "warnings"} | {"warnings": len(report.warnings)})
    else:
        print(report.summary())
    return 0


def open_searcher(args: argparse.Namespace):
    from search_api.searcher import Searcher

    # One query per process: FTS5 answers it directly; loading the in-memory BM25 index would cost more.
    return Searcher(Path(args.index_dir), settings_from(args).model_copy(update={"lexical_engine": "fts5"}))


def cmd_search(args: argparse.Namespace) -> int:
    from search_api.searcher import Filters
    from search_api.validation import validate_date_range

    date_from, date_to = validate_date_range(args.date_from, args.date_to)
    searcher = open_searcher(args)
    searcher.warm_up()  # took_ms then measures the search, not the model load
    response = searcher.search(
        args.query, k=args.k, mode=args.mode, filters=Filters(date_from, date_to, args.category)
    )
    if args.json:
        data = response.to_dict()
        data.pop("total")
        print_json(data)
    else:
        print(f"{response.total} result(s) for {args.query!r} in {response.took_ms:.0f} ms")
        for rank, r in enumerate(response.results, 1):
            print(f"{rank:>2}. [{r.id}] {r.title}  ({r.date or 'no date'}, {r.category}, score {r.score:.3f})")
            print(f"    {r.snippet.replace('<mark>', '[').replace('</mark>', ']')}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    article = open_searcher(args).get(args.id)
    if article is None:
        raise UsageError(f"No article with id {args.id!r} in {args.index_dir}.")
    data = {k: getattr(article, k) for k in ("id", "title", "date", "category", "url", "language", "body")}
    if args.json:
        print_json(data)
    else:
        print(f"{data['title']}\n{data['date'] or ''} {data['category']} {data['url']}\n\n{data['body']}")
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
    from search_api.app import serve

    serve(Path(args.index_dir), settings_from(args))
    return 0


class UsageError(Exception):
    """A mistake the user can fix; printed without a traceback."""


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
    p.add_argument("--model", help="'default' (embedded e5-small), a sentence-transformers id, or a local path")
    p.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], help="embedding backend")
    p.add_argument("--limit", type=int, help="index at most N articles")
    p.add_argument("--delete", nargs="+", metavar="ID", help="remove these article ids")
    p.add_argument("--passage-tokens", type=int, dest="passage_tokens", help="passage size in model tokens (default 256)")
    p.add_argument("--max-passages", type=int, dest="max_passages_per_article", help="embed at most N passages per article")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = add("search", cmd_search, "Search an index.")
    index_dir(p)
    p.add_argument("query")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    p.add_argument("--date-from")
    p.add_argument("--date-to")
    p.add_argument("--category")
    p.add_argument("--model")
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

    p = add("serve", cmd_serve, "Serve the search API and web page.")
    index_dir(p)
    p.add_argument("--host")
    p.add_argument("--port", type=int)

    for register in extra_commands():
        register(sub)
    return parser


def extra_commands() -> list[Callable]:
    """Subcommands that live next to their implementation (eval, bench, adapt)."""
    found = []
    try:
        from thaigov_search.evaluation import register as register_eval

        found.append(register_eval)
    except ImportError:
        pass
    try:
        from thaigov_search.bench import register as register_bench

        found.append(register_bench)
    except ImportError:
        pass
    try:
        from thaigov_search.adapt import register as register_adapt

        found.append(register_adapt)
    except ImportError:
        pass
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from indexer.embedding import quiet_libraries
    from indexer.storage import IndexError_

    quiet_libraries()
    try:
        return int(args.func(args) or 0)
    except (UsageError, IndexError_, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; everything committed so far is kept, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
