"""Operations commands for a production service: ``analytics``, ``backup`` and ``switch`` (docs/deploy.md).

    thaigov-search analytics --index-dir DIR [--since YYYY-MM-DD] [--limit 20] --json
    thaigov-search backup    --index-dir DIR --to DEST          # DEST must not exist
    thaigov-search switch    --link /srv/thaigov/current --to /srv/thaigov/index-2024-10-01
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from thaigov_search.cli.common import print_json, settings_from


def cmd_analytics(args: argparse.Namespace) -> int:
    from thaigov_search.search.validation import validate_date
    from thaigov_search.store.analytics import analytics_path, read_report

    index_dir = Path(args.index_dir)
    if not index_dir.exists():
        raise FileNotFoundError(f"{index_dir} does not exist")
    path = analytics_path(index_dir, settings_from(args).analytics_db)
    data = read_report(path, validate_date(args.since, "--since"), args.limit)
    if args.json:
        print_json(data)
        return 0
    print(f"{data['searches']} searches{' since ' + args.since if args.since else ''} ({path})")
    for title, key in (("top queries", "top_queries"), ("queries with no result", "zero_result_queries")):
        print(f"\n{title}:")
        for row in data[key]:
            print(f"  {row['count']:>7}  {row['query']}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from thaigov_search.store.backup import backup_index

    report = backup_index(Path(args.index_dir), Path(args.to))
    if args.json:
        print_json(asdict(report))
    else:
        print(f"backed up {report.articles} articles, {report.passages} passages (generation {report.generation}) "
              f"to {report.destination}: {report.bytes / 1e6:.1f} MB in {report.seconds:.1f} s")
    return 0


def cmd_switch(args: argparse.Namespace) -> int:
    from thaigov_search.store.backup import switch_index

    previous = switch_index(Path(args.link), Path(args.to))
    print(f"{args.link} -> {Path(args.to).resolve()} (was {previous or 'nothing'}); "
          "a running `serve` of the link switches within THAIGOV_SEARCH_INDEX_WATCH_S seconds")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("analytics", help="Top queries and queries with no result, from the recorded searches.",
                              description=cmd_analytics.__doc__ or "Search analytics report.")
    p.add_argument("--index-dir", required=True, help="the served index directory (or its symlink)")
    p.add_argument("--since", help="first day counted, YYYY-MM-DD (default: everything kept)")
    p.add_argument("--limit", type=int, default=20, help="queries per list (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_analytics)

    p = subparsers.add_parser("backup", help="Consistent copy of an index, safe while it is served and written.",
                              description="Consistent copy of an index, safe while it is served and written.")
    p.add_argument("--index-dir", required=True)
    p.add_argument("--to", required=True, help="destination directory (must not exist)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backup)

    p = subparsers.add_parser("switch", help="Point a served index symlink at another index (atomic; no downtime).",
                              description="Point a served index symlink at another index (atomic; no downtime).")
    p.add_argument("--link", required=True, help="the symlink `serve --index-dir` was given")
    p.add_argument("--to", required=True, help="the index directory to serve from now on")
    p.set_defaults(func=cmd_switch)
