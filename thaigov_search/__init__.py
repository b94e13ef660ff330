"""thaigov-search: shared configuration and the command-line entry point.

The write path lives in ``indexer``; the read path in ``search_api``.
"""

__version__ = "0.1.0"
