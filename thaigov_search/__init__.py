"""thaigov-search: semantic (hybrid dense + BM25) search over Thai government news, offline.

Layers, bottom up (docs/design.md has the map; ``lint-imports`` checks it): ``core`` (settings,
articles, Thai text) -> ``embedding`` | ``store`` (the model; the index directory, the only SQL) ->
``indexing`` | ``search`` (write path; read path) -> ``api`` (HTTP) -> ``cli`` (command line, eval, bench).
"""

__version__ = "0.1.0"
