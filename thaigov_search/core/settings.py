"""All tunable settings in one typed place.

Every field can be set through an environment variable named ``THAIGOV_SEARCH_<FIELD>``
(for example ``THAIGOV_SEARCH_HOME=/srv/thaigov``); command-line flags override them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from thaigov_search.core.models import DEFAULT_ALIAS, MODEL_HELP
from thaigov_search.core.modes import LexicalEngine, LexicalEvidence


class Settings(BaseSettings):
    """Settings shared by the indexer, the search service and the tools."""

    model_config = SettingsConfigDict(env_prefix="THAIGOV_SEARCH_", extra="ignore")

    home: Path = Field(
        default=Path.home() / ".cache" / "thaigov-search",
        description="Cache directory; the default model is built here once.",
    )
    model: str = Field(
        default=DEFAULT_ALIAS,  # "default": the embedded default model (core.models: thaigov-e5-small)
        description=MODEL_HELP,
    )
    backend: str = Field(
        default="onnx-int8",
        description="Embedding backend: one of core.modes.BACKENDS (torch, onnx, onnx-int8). onnx-int8 is the default: "
        "1.9x torch's indexing throughput and twice its query rate on 2 CPU cores (docs/performance.md); its first use "
        "exports the model once (about a minute). torch for a GPU.",
    )
    device: str | None = Field(default=None, description="torch device (cpu, cuda); None picks automatically.")
    passage_tokens: int = Field(default=256, ge=32, le=512, description="Target passage size in model tokens.")
    max_passages_per_article: int = Field(
        default=1, ge=0, description="Embed at most this many passages per article (0 = all). Lexical index keeps all. "
        "1 (the lead passage) is the default: it embeds the full corpus in about 45 minutes on 2 cores instead of hours, "
        "and the lead carries a release's news (docs/quality.md, docs/performance.md).",
    )
    batch_size: int | None = Field(
        default=None, ge=1,
        description="Passages per embedding batch; unset: 4 on CPU (fastest measured, docs/performance.md), 128 on GPU.",
    )
    commit_every: int = Field(default=200, ge=1, description="Articles per durable commit while indexing.")
    # Indexing on a Ray cluster (`index --ray`, indexing/distributed.py, docs/scaling.md)
    ray_workers: int | None = Field(
        default=None, ge=1, description="Ray workers (actors, each with its own copy of the model) for `index --ray`; "
        "unset: as many as the cluster's CPUs (or GPUs, with ray_worker_gpus) hold.",
    )
    ray_worker_cpus: float = Field(default=1.0, gt=0, description="CPUs each Ray worker reserves (and its model's threads).")
    ray_worker_gpus: float = Field(default=0.0, ge=0, description="GPUs each Ray worker reserves (1: embed on its own GPU).")
    ray_batches_in_flight: int = Field(
        default=2, ge=1, description="Batches (of commit_every articles) queued per Ray worker ahead of the writer: "
        "enough to keep workers busy while the driver commits, few enough that a killed driver loses little work.",
    )
    ray_retries: int = Field(
        default=3, ge=0, description="How often a Ray worker that dies (killed, out of memory, node lost) is restarted "
        "and its batches retried before `index --ray` gives up (committed batches are kept; rerun to resume).",
    )
    exact_search_max_passages: int = Field(
        default=100_000, description="Up to this many passages FAISS searches exactly; above it, HNSW (docs/performance.md)."
    )
    # Search service
    lexical_engine: LexicalEngine = Field(
        default="memory",
        description="BM25 engine: 'memory' loads the index's terms once (fast queries, docs/performance.md); "
        "'fts5' asks SQLite per query (no load time; the one-shot CLI `search` uses it).",
    )
    dense_calibration: bool = Field(
        default=True,
        description="Rank dense results on per-language centred cosines so English queries find Thai releases as readily as "
        "English ones (search/calibration.py, docs/quality.md); off: raw cosine.",
    )
    lexical_evidence: LexicalEvidence = Field(
        default="language-agreement",
        description="Hybrid's lexical weight: query coverage x how often BM25's and the dense top 10 share a "
        "language ('language-agreement'), or coverage alone ('index', the rule before issue #11); docs/quality.md.",
    )
    date_weight: float = Field(
        default=0.2, ge=0.0, le=1.0,
        description="Soft preference in hybrid for releases from a year/month the query names (0 = off).",
    )
    title_weight: float = Field(
        default=0.2, ge=0.0, le=1.0,
        description="In hybrid ranking, the share of an article's dense score that comes from its title embedded on its "
        "own (the rest: its best passage); 0 = passages only (search/titles.py, docs/quality.md). Titles are "
        "embedded at index time.",
    )
    # English <-> Thai twins (issue #11; indexing/twins.py, docs/quality.md)
    link_twins: bool = Field(
        default=True, description="`index` links each English release to the Thai release that reports the same "
        "event (date window, shared numbers and names, dense similarity; only with the embedded models, whose "
        "thresholds were checked by eye). Search shows the link and ranks by it (twin_lift).",
    )
    twin_lift: float = Field(
        default=0.9, ge=0.0, le=1.0,
        description="In hybrid ranking a release scores at least this share of its twin's fused score, so a query "
        "that finds one language's version also finds the other's (0 = off; docs/quality.md).",
    )
    # Searching like a news archive (issue #14; docs/api.md, docs/quality.md)
    duplicate_threshold: float = Field(
        default=0.8, gt=0.0, le=1.0,
        description="Two releases are versions of one when the estimated Jaccard similarity of their 5-word "
        "shingles is at least this (indexing/duplicates.py); applies to articles indexed from then on.",
    )
    collapse_duplicates: bool = Field(
        default=True, description="Default of /search's collapse= (issue #14's interface: true): show one result "
        "per group of near-duplicates. Folding hides the second copy of a duplicated document, which a judged set "
        "may count as a second hit: -0.005 to -0.007 nDCG@10 on the Wikipedia sets, MRR@10 unchanged (docs/quality.md).",
    )
    recency_half_life_days: float = Field(
        default=0.0, ge=0.0, le=36500.0,
        description="Default of /search's recency=: the fused score is halved every this many days of age "
        "(counted back from the newest release in the index); 0 = off (docs/quality.md has why it is off).",
    )
    lexical_match_share: float = Field(
        default=0.3, ge=0.0, le=1.0,
        description="An article matches a query lexically when its BM25 is at least this share of the query's "
        "ideal BM25 (every term once, average length); with dense_margin it defines a query's result set.",
    )
    dense_margin: float = Field(
        default=0.12, ge=0.0, le=2.0,
        description="A dense candidate belongs to the result set when its (calibrated) cosine is within this "
        "margin of the best one's. 0.08 kept 99.5 % of the news dev set's targets that dense search finds with "
        "the adapted model at full strength (0.05 did with e5-small); with the half-strength default it cut Thai "
        "Wikipedia answers in dense mode, every passage embedded (nDCG@10 0.9182 -> 0.9171; 0.10 the same), "
        "0.12 keeps every one (docs/quality.md).",
    )
    query_cache_size: int = Field(
        default=1024, ge=0,
        description="Query vectors kept per serving process (LRU; 1.5 KB each): a repeated query skips the model. 0 = off.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(
        default=1, ge=1,
        description="`serve` worker processes on one port. Each loads its own model; the index snapshots are "
        "memory-mapped and shared through the page cache (docs/performance.md). The rate limit and the metrics "
        "count per worker.",
    )
    api_key: str | None = Field(default=None, description="Enables POST/DELETE /documents when set.")
    cors_origins: list[str] = Field(default_factory=list, description="Allowed CORS origins (explicit list).")
    max_query_chars: int = 1000
    max_k: int = 100
    max_body_bytes: int = 5 * 1024 * 1024
    request_timeout_s: float = 10.0
    write_wait_s: float = Field(
        default=20.0, ge=0,
        description="POST/DELETE /documents wait this long for an `index` run holding the index's writer lock, "
        "then answer 503 with Retry-After.",
    )
    # Running on a portal (docs/deploy.md)
    public_url: str | None = Field(
        default=None,
        description="Absolute base URL the public reaches the service at (https://search.example.go.th), used in "
        "feeds and /opensearch.xml; unset: taken from each request (the Host / X-Forwarded-* headers).",
    )
    feed_size: int = Field(default=20, ge=1, le=100, description="Entries in a feed unless the request gives k.")
    metrics: bool = Field(default=False, description="Serve Prometheus metrics at GET /metrics.")
    metrics_key: str | None = Field(
        default=None, description="When set, /metrics needs it as 'Authorization: Bearer <key>' or X-API-Key.",
    )
    rate_limit_per_s: float | None = Field(
        default=None, gt=0, description="Requests per second allowed per client address (unset: no limit).",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1", description="Proxies whose X-Forwarded-For/-Proto `serve` believes (comma-separated "
        "addresses, or '*'): the client address the rate limit counts comes from them.",
    )
    rate_limit_burst: int | None = Field(
        default=None, ge=1, description="Requests a client may make at once above the rate (unset: 2 x the rate).",
    )
    analytics: bool = Field(
        default=True, description="Record searches (query text, filters, result count, latency, time; never who "
        "asked) for `thaigov-search analytics` and GET /admin/analytics.",
    )
    analytics_db: Path | None = Field(
        default=None, description="Analytics SQLite file; unset: analytics.sqlite in the index directory, or "
        "<name>.analytics.sqlite beside it when --index-dir is a symlink (kept across index switches).",
    )
    analytics_raw_days: int = Field(default=30, ge=1, description="Days single search records are kept.")
    analytics_days: int = Field(default=400, ge=1, description="Days the per-day query counts are kept.")
    index_watch_s: float = Field(
        default=2.0, gt=0, description="How often `serve` checks whether its --index-dir symlink points at a new "
        "index (a rebuilt one switched in with `thaigov-search switch`).",
    )

