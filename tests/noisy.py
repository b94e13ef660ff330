"""The busy neighbour for tests: a process that keeps every core busy while the test runs.

Races and starvation that never show on a quiet machine show on a shared one (issue #15: the indexer
crashed in ``make demo`` while another job ran). Tests of concurrency, crash safety and load wrap their
work in :func:`noisy_neighbour`; scripts use ``thaigov_search.cli.noisy`` the same way.
"""

from thaigov_search.cli.noisy import noisy_neighbour

__all__ = ["noisy_neighbour"]
