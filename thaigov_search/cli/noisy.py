"""A busy neighbour: processes that keep every core busy, for tests and scripts (issue #15).

Races and lock starvation hide on a quiet machine: the indexer's tokenizer race failed 1 call in
~5,000 there, but every 300-article ``make demo`` run while another job kept the two cores busy.
So the concurrency, crash and load tests run their work inside :func:`noisy_neighbour`, and so can
any command::

    python -m thaigov_search.cli.noisy -- make demo-index      # every core busy while it runs
    python -m thaigov_search.cli.noisy --procs 4 -- thaigov-search index ...

The spinners are separate processes (no GIL shared with the code under test), one per core the
process may use (affinity) unless told otherwise, at normal priority, and each stops by itself after
``max_seconds`` even if its parent dies, so a crashed test never leaves the machine busy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence

from thaigov_search.core.cpu import available_cores

SPIN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    sum(range(1000))\n"


@contextlib.contextmanager
def noisy_neighbour(procs: int | None = None, max_seconds: float = 1800.0) -> Iterator[list[int]]:
    """Keep `procs` (default: every available core) spinner processes running for the block's duration.

    Yields their pids. ``THAIGOV_SEARCH_NOISY=0`` turns it off (to compare with a quiet run).
    """
    if os.environ.get("THAIGOV_SEARCH_NOISY", "1") == "0":
        yield []
        return
    count = procs if procs is not None else available_cores()
    children = [
        subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=float(max_seconds))],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        yield [child.pid for child in children]
    finally:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGKILL)
        for child in children:
            child.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m thaigov_search.cli.noisy",
        description="Run a command while other processes keep every core busy.",
    )
    parser.add_argument("--procs", type=int, default=None, help="spinner processes (default: one per core)")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="spinners stop by themselves after this")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --, e.g. python -m thaigov_search.cli.noisy -- make demo-index")
    with noisy_neighbour(args.procs, args.max_seconds):
        return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
