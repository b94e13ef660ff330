"""Which folder a model name means: the embedded models are built on first use, the rest pass through.

Above :mod:`.build` (e5-small) and :mod:`.adapted` (e5-small with the government-news adapter, which
is built from the first), so neither of them imports the other's caller.
"""

from __future__ import annotations

from pathlib import Path

from thaigov_search.core.models import ADAPTED_MODEL_NAME, BASE_MODEL_NAME, canonical_model
from thaigov_search.embedding.default_model.adapted import build_adapted_model
from thaigov_search.embedding.default_model.build import build_default_model


def resolve_model(spec: str, home: Path) -> str:
    """Map a model spec to something ``SentenceTransformer()`` can load.

    The embedded names (core.models): ``e5-small`` is the offline-built e5 folder,
    ``thaigov-e5-small`` (alias ``default``) the same with the government-news adapter merged in;
    both are built on first use. Anything else (a hub id or a local path) is passed through untouched.
    """
    name = canonical_model(spec)
    if name == BASE_MODEL_NAME:
        return str(build_default_model(home))
    if name == ADAPTED_MODEL_NAME:
        return str(build_adapted_model(home))
    return spec
