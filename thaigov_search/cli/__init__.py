"""Top layer: the ``thaigov-search`` command (:mod:`.main`) with ``eval``, ``bench``, the operations commands
(:mod:`.portal`: ``analytics``, ``backup``, ``switch``) and ``noisy``.

``thaigov_search.cli:main`` is the console script; ``python -m thaigov_search.cli`` runs the same.
"""

from thaigov_search.cli.main import main

__all__ = ["main"]
