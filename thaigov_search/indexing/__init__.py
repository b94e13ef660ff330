"""The write path: inputs read, parsed into articles, chunked into passages, embedded and stored.

Imports ``core``, ``embedding`` and ``store``; never the read path (``search``, ``api``).
"""
