"""``python -m thaigov_search.cli``: the ``thaigov-search`` command."""

import sys

from thaigov_search.cli.main import main

sys.exit(main())
