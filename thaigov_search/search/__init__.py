"""The read path: a query in, ranked articles with snippets out (dense, lexical or hybrid).

Imports ``core``, ``embedding`` and ``store``; never the write path (``indexing``).
"""
