"""`thaigov-search bench`: the JSON each subcommand prints (shape and sanity, never timings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thaigov_search.cli import main

DEMO = Path(__file__).parent / "fixtures" / "demo-sample.jsonl.gz"

INDEXING_KEYS = {"articles", "passages", "tokens", "seconds", "articles_per_s", "tokens_per_s", "backend", "peak_rss_mb"}
QUERY_KEYS = {"requests", "errors", "qps", "p50_ms", "p95_ms", "p99_ms", "concurrency", "articles", "server_peak_rss_mb"}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_bench_indexing_json(capsys, tmp_path):
    if not DEMO.exists():
        pytest.skip(f"{DEMO} not available")
    kept = tmp_path / "kept-index"
    data = run_json(capsys, "bench", "indexing", "--input", str(DEMO), "--limit", "10", "--max-passages", "2",
                    "--keep-index", str(kept), "--json")
    assert INDEXING_KEYS <= set(data)
    assert data["backend"] == "torch"
    assert 0 < data["articles"] <= 10
    assert data["passages"] >= data["articles"]
    assert data["embedded_passages"] <= 2 * data["articles"]
    assert data["tokens"] > 0 and data["seconds"] > 0 and data["peak_rss_mb"] > 0
    assert data["articles_per_s"] == pytest.approx(data["articles"] / data["seconds"], rel=0.01)
    assert data["tokens_per_s"] == pytest.approx(data["tokens"] / data["seconds"], rel=0.01)
    assert (kept / "manifest.json").is_file()


def test_bench_indexing_refuses_existing_keep_dir(capsys, tmp_path):
    if not DEMO.exists():
        pytest.skip(f"{DEMO} not available")
    assert main(["bench", "indexing", "--input", str(DEMO), "--limit", "1", "--keep-index", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_bench_indexing_missing_input(capsys, tmp_path):
    assert main(["bench", "indexing", "--input", str(tmp_path / "nope.jsonl"), "--json"]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_query_json(capsys, sample_index):
    stats = json.loads((sample_index / "manifest.json").read_text(encoding="utf-8"))
    data = run_json(capsys, "bench", "query", "--index-dir", str(sample_index), "--duration", "2",
                    "--concurrency", "2", "--requests", "500", "--json")
    assert QUERY_KEYS <= set(data)
    assert data["concurrency"] == 2
    assert 0 < data["requests"] <= 500
    assert data["errors"] == 0, data.get("error_samples")
    assert data["qps"] > 0
    assert 0 < data["p50_ms"] <= data["p95_ms"] <= data["p99_ms"]
    assert data["articles"] > 0
    if "articles" in stats:
        assert data["articles"] == stats["articles"]
    assert data["server_peak_rss_mb"] > 0
    assert data["mode"] == "hybrid"


def test_bench_query_only_loopback(capsys):
    assert main(["bench", "query", "--url", "http://example.com:8000", "--duration", "1", "--json"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_bench_query_missing_index(capsys, tmp_path):
    assert main(["bench", "query", "--index-dir", str(tmp_path), "--duration", "1", "--json"]) == 2
    assert "no index" in capsys.readouterr().err
