"""Shared fixtures: the real embedded model and a real index built from real articles."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from thaigov_search.core.settings import Settings

# The suite was written against torch with every passage embedded; its fixtures, and the servers and
# commands it starts (they inherit this environment), keep those settings. The shipped defaults
# (onnx-int8, lead passage only) are exercised by tests/test_scale.py with these unset.
OLD_DEFAULTS = {"THAIGOV_SEARCH_BACKEND": "torch", "THAIGOV_SEARCH_MAX_PASSAGES_PER_ARTICLE": "0"}
for _name, _value in OLD_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "thaigov-sample.jsonl"
# Nine releases with two English <-> Thai twin pairs (COVID-19 supplies for prisons, IMT-GT), cut from the corpus.
TWINS_SAMPLE = FIXTURES / "twins-sample.jsonl"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Default settings; the model cache is the user's (built once per machine, reused).

    Search analytics off: servers over the shared ``sample_index`` would otherwise write an
    analytics file into it (tests/test_analytics.py turns it on over private copies)."""
    return Settings(analytics=False)


@pytest.fixture(scope="session")
def embedder(settings: Settings):
    from thaigov_search.embedding.embedder import Embedder

    return Embedder.from_settings(settings)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, settings: Settings, embedder) -> Path:
    """An index of the real sample articles, built once per test session. Treat it as read-only."""
    from thaigov_search.indexing.run import run_index

    index_dir = tmp_path_factory.mktemp("sample-index")
    report = run_index([SAMPLE], index_dir, settings, progress=False, embedder=embedder)
    assert report.indexed > 0
    return index_dir


@pytest.fixture(scope="module")
def lead_settings(settings: Settings) -> Settings:
    """Lead passages only, as the full-corpus setup (long releases: embedding every passage would make
    the modules that use it slow on a 2-core machine)."""
    return settings.model_copy(update={"max_passages_per_article": 1})


@pytest.fixture(scope="module")
def twins_index(tmp_path_factory: pytest.TempPathFactory, lead_settings: Settings, embedder) -> Path:
    """The twins sample indexed with lead passages (twins linked, titles embedded). Read-only."""
    from thaigov_search.indexing.run import run_index

    index_dir = tmp_path_factory.mktemp("twins-index")
    report = run_index([TWINS_SAMPLE], index_dir, lead_settings, progress=False, embedder=embedder)
    assert report.indexed == 9
    return index_dir


@pytest.fixture()
def writable_index(tmp_path: Path, sample_index: Path) -> Path:
    """A private copy of the sample index that a test may change."""
    target = tmp_path / "index"
    shutil.copytree(sample_index, target)
    return target


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """For modules whose requests run in parallel threads: 2 spinning torch threads per request crawl
    on a shared 2-core box. Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def shared_path(*parts: str) -> Path:
    """A file under ../shared (the corpus and eval sets); tests that need it skip with a reason if absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
