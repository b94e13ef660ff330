"""What every command shares: the flags -> settings rule, JSON output and the error a user can fix."""

from __future__ import annotations

import argparse
import json

from thaigov_search.core.settings import Settings


class UsageError(Exception):
    """A mistake the user can fix; printed without a traceback."""


def print_json(data: object) -> None:
    """JSON output of every command (``--json``): Thai text as is, indented."""
    print(json.dumps(data, ensure_ascii=False, indent=2))


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment settings, overridden by the flags the user gave."""
    overrides = {}
    for flag in ("model", "backend", "passage_tokens", "max_passages_per_article", "batch_size", "host", "port",
                 "ray_workers", "workers"):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[flag] = value
    return Settings(**overrides)
